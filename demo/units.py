"""One latent unit: what it codes, and what it does to the code of A. The unit view's model side; no Gradio.

Per checkpoint, once (part of :func:`demo.insight.analyse`, kept by :mod:`demo.cache` with the
rest), from the test codes H = E(X_test) (N, d), for every unit j:

    frequency_j   the fraction of test images on which j is active (h_j > 1/2 for a sigmoid code,
                  h_j > 0 for ReLU and top-k codes: :func:`regae.analysis.health.active_rule`)
    order         every unit, most often active first; ties (a sigmoid code trained with KL sparsity
                  may never pass 1/2) by the mean of h_j, larger first (:func:`regae.analysis.health.unit_order`)
    top_j         the test images with the largest h_j, largest first
    decoded_j     its decoder image D(s·e_j) (as uint8, as the page shows it), s the 99th percentile of h_j, on the mean test code for a
                  sigmoid or linear code (the report's, :func:`regae.analysis.health.unit_images`)
    low_j, high_j the smallest and largest h_j seen

and for the code h = E(A) of the page's image A, :func:`edit_unit` decodes h with h_j := v:
D(h + (v − h_j) e_j). The slider spans :func:`slider_range`: 0..1 for a sigmoid code, 0 to a
tenth above the largest h_j seen for ReLU and top-k codes, the values seen with a tenth of their
spread on either side for a linear code (widened to take in h_j of A, which may lie outside; a
unit that never varies gets the largest span of the code's units).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from regae.analysis.health import ZERO_BASED, active_rule, unit_images
from regae.model.inference import evaluating

N_TOP = 8  # top-activating test images shown per unit
MARGIN = 0.1  # of the unit's observed span, added above (and below, for a linear code) the slider's range
SLIDER_STEPS = 200  # about this many slider steps over the range, rounded to a power of ten


class Units(NamedTuple):
    """What start-up knows of each latent unit j of one model, from its test codes; arrays are indexed by j."""

    kind: str  # the model's latent activation: "sigmoid", "relu", "none", "topk:25", ...
    order: np.ndarray  # (d,) int64: every unit, most often active first
    frequency: np.ndarray  # (d,) float64: fraction of test images on which unit j is active
    mean: np.ndarray  # (d,) float64: mean of h_j over the test images
    low: np.ndarray  # (d,) float64: smallest h_j seen
    high: np.ndarray  # (d,) float64: largest h_j seen
    top: np.ndarray  # (d, n_top) int64: indices of the test images with the largest h_j, largest first
    decoded: np.ndarray  # (d, C, H, W) uint8: the unit's decoder image, rounded to 8 bits as the page shows it


def code_kind(model) -> str:
    """The latent activation ``model`` was built with (checkpoints that do not record it: sigmoid)."""
    return str(model.hparams.get("latent_activation", "sigmoid"))


def unit_stats(model, codes: Tensor, kind: str, n_top: int = N_TOP) -> Units:
    """:class:`Units` of ``model`` from its test codes (N, d) (one decoder pass of d codes)."""
    d = codes.shape[1]
    shown = unit_images(model, codes, kind, n_units=d, n_top=n_top, dead=True)  # every unit, most often active first
    order = np.asarray(shown["units"], dtype=np.int64)
    at = np.argsort(order)  # unit j's row of `shown`
    top = np.asarray(shown["top_images"], dtype=np.int64).reshape(d, -1)[at]
    freq = np.asarray(shown["frequency"], dtype=np.float64)[at]
    c = codes.double()
    return Units(kind, order, freq, c.mean(0).numpy(), c.min(0).values.numpy(),
                 c.max(0).values.numpy(), top, as_uint8(shown["decoded"].numpy()[at]))


def as_uint8(images: np.ndarray) -> np.ndarray:
    """Images in [0, 1] -> uint8, rounded as :func:`demo.views.zoom` rounds them (so the page shows the same)."""
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8)


def check_units(units: Units, latent_dim: int, image_shape: tuple[int, ...], n_test: int) -> None:
    """``ValueError`` unless ``units`` are of ``latent_dim`` units, images of ``image_shape`` and ``n_test`` test images."""
    d = latent_dim
    vectors = (units.frequency, units.mean, units.low, units.high)
    if (units.order.shape != (d,) or sorted(units.order.tolist()) != list(range(d))
            or any(v.shape != (d,) or not np.isfinite(v).all() for v in vectors)
            or units.top.ndim != 2 or len(units.top) != d or not 0 < units.top.shape[1] <= n_test
            or units.top.min() < 0 or units.top.max() >= n_test
            or units.decoded.shape != (d, *image_shape) or units.decoded.dtype != np.uint8):
        raise ValueError(f"unit statistics of another shape than {d} units of images {tuple(image_shape)}")


def slider_range(units: Units, j: int, current: float | None = None) -> tuple[float, float, float]:
    """(minimum, maximum, step) of unit ``j``'s slider: its observed values and ``current`` (h_j of A) inside."""
    kind = units.kind.partition(":")[0]
    zero_based = kind in ZERO_BASED
    low, high = float(units.low[j]), float(units.high[j])
    floor = 0.0 if zero_based else low
    if kind == "sigmoid":
        lo, hi = 0.0, 1.0
    elif high > floor:
        margin = MARGIN * (high - floor)
        lo, hi = (floor if zero_based else floor - margin), high + margin
    else:  # a unit that never varies: the code's scale around it (its units' largest span, else 1)
        spans = units.high - (0.0 if zero_based else units.low)
        scale = float(spans.max()) if spans.max() > 0 else 1.0
        lo, hi = (floor, high + scale) if zero_based else (low - scale / 2, high + scale / 2)
    if current is not None:
        lo, hi = min(lo, float(current)), max(hi, float(current))
    step = 10.0 ** math.floor(math.log10((hi - lo) / SLIDER_STEPS))
    return lo, hi, step


def unit_label(units: Units, j: int) -> str:
    """How the unit menu names unit ``j``: its index, how often it is active and its mean value."""
    f, rule = units.frequency[j], active_rule(units.kind)
    seen = f"active on {100 * f:.1f} % ({rule})" if f > 0 else f"dead (never {rule})"
    return f"unit {j}: {seen}, mean {units.mean[j]:.3g}"


def unit_choices(units: Units) -> list[tuple[str, int]]:
    """(label, j) for the unit menu, most often active first."""
    return [(unit_label(units, int(j)), int(j)) for j in units.order]


@torch.no_grad()
def edit_unit(model, h: Tensor, j: int, value: float) -> Tensor:
    """D(h with h_j := value) for one code h (d,): the image (C, H, W), on the CPU."""
    if not 0 <= j < h.shape[-1]:
        raise ValueError(f"Expected a unit `j` in [0, {h.shape[-1] - 1}], got {j}.")
    edited = h.detach().reshape(1, -1).clone()  # (1, d)
    edited[0, j] = value
    with evaluating(model) as device:
        return model.decode(edited.to(device)).float().cpu()[0]  # (C, H, W)

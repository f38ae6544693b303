"""A trained model over a set of images: the one batched path (encode, reconstruct, classify) and PSNR.

The report, the study and the demo run whole splits through a model here, in batches on the
model's device, in eval mode, without gradients; results come back on the CPU. Images are
uint8 ``(N, H, W)`` / ``(N, C, H, W)`` (0..255, as datasets hold them) or float in [0, 1].

PSNR, as torchmetrics' ``peak_signal_noise_ratio`` defines it, with data range R = 1::

    PSNR(x̂, x) = 10 log10(R² / MSE),   MSE = mean of (x̂ − x)² over the pixels it pools

``dim=None`` pools every pixel of the set (what ``regae test`` logs: torchmetrics'
``PeakSignalNoiseRatio`` accumulates the squared error over all test images); a ``dim`` gives
one value per image. Identical images give +inf, honestly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from regae.data.dataset import to_float

#: images per batch; 1000 keeps a U-Net's activations around 100 MB on a CPU
BATCH = 1000


def psnr_from_mse(mse: Tensor | float, data_range: float = 1.0) -> Tensor:
    """10 log10(R² / MSE): +inf where MSE = 0."""
    mse = torch.as_tensor(mse, dtype=torch.float64)
    return 10 * torch.log10(data_range**2 / mse)


def per_image_mse(preds: Tensor, target: Tensor) -> Tensor:
    """Mean squared error of each image over all but the first axis: (N, ...) -> (N,) float64."""
    return (preds.double() - target.double()).pow(2).flatten(1).mean(1)


def psnr(preds: Tensor, target: Tensor, data_range: float = 1.0, dim: int | Sequence[int] | None = None) -> Tensor:
    """PSNR in dB: pooled over every element (``dim=None``, a scalar) or reduced over ``dim``.

    ``psnr(x_hat, x, dim=(1, 2, 3))`` gives one value per image of a (N, C, H, W) batch.
    """
    err = (preds.double() - target.double()).pow(2)
    mse = err.mean() if dim is None else err.mean(dim=dim)
    return psnr_from_mse(mse, data_range)


def as_batch(images: Tensor) -> Tensor:
    """uint8 (B, H, W) / (B, C, H, W) -> float32 (B, C, H, W) in [0, 1]; float images get a channel axis if needed."""
    if images.dtype == torch.uint8:
        return to_float(images)
    return images.unsqueeze(1) if images.ndim == 3 else images


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[torch.device]:
    """Eval mode and no gradients for the block (the mode before is restored); yields the model's device."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield next(model.parameters()).device
    finally:
        model.train(was_training)


def _starts(n: int, batch_size: int, desc: str | None) -> Iterator[int]:
    return iter(tqdm(range(0, n, batch_size), desc=desc, unit="batch", leave=False, disable=desc is None))


class Pass(NamedTuple):
    """One pass of a set through a model."""

    codes: Tensor  # (N, d) float32, h = E(x)
    sq_err: Tensor | None  # (N,) float64, mean over the pixels of (D(h) − x)² per image; None if not decoded


def run(model: nn.Module, images: Tensor, batch_size: int = BATCH, decode: bool = True,
        desc: str | None = None) -> Pass:
    """Codes E(x) and (``decode``) each image's squared error of its reconstruction, in batches."""
    codes, errs = [], []
    with evaluating(model) as device:
        for s in _starts(len(images), batch_size, desc):
            x = as_batch(images[s : s + batch_size]).to(device)  # (b, C, H, W)
            if decode:  # the whole forward: the conv AE's unpooling decoder takes the encoder's indices
                out = model(x)
                h = out.h  # (b, d)
                errs.append(per_image_mse(out.x_hat, x).cpu())
            else:
                h = model.encode(x)  # (b, d)
            codes.append(h.float().cpu())
    return Pass(torch.cat(codes), torch.cat(errs) if decode else None)


def encode(model: nn.Module, images: Tensor, batch_size: int = BATCH, desc: str | None = None) -> Tensor:
    """h = E(x) for every image: (N, d) float32 on the CPU."""
    return run(model, images, batch_size, decode=False, desc=desc).codes


def reconstruct(model: nn.Module, images: Tensor, batch_size: int = BATCH, desc: str | None = None) -> Tensor:
    """x̂ = D(E(x)) for every image: (N, C, H, W) float32 in [0, 1] on the CPU (the model's full forward)."""
    out = []
    with evaluating(model) as device:
        for s in _starts(len(images), batch_size, desc):
            out.append(model(as_batch(images[s : s + batch_size]).to(device)).x_hat.float().cpu())
    return torch.cat(out)


def classify(model: nn.Module, images: Tensor, batch_size: int = BATCH, desc: str | None = None) -> Tensor:
    """The class a classifier (``model(x)`` -> logits (b, K)) gives each image: (N,) int64 on the CPU."""
    out = []
    with evaluating(model) as device:
        for s in _starts(len(images), batch_size, desc):
            out.append(model(as_batch(images[s : s + batch_size]).to(device)).argmax(1).cpu())
    return torch.cat(out)


def test_psnr(model: nn.Module, images: Tensor, batch_size: int = BATCH) -> tuple[float, float]:
    """(PSNR in dB, MSE) of D(E(x)) against x pooled over every pixel of ``images``."""
    mse = float(run(model, images, batch_size).sq_err.mean())
    return float(psnr_from_mse(mse)), mse

"""The study's comparisons, through :mod:`regae.reports.stats`: per-image errors of several seeds
in, a summary (mean ± std over seeds) or a paired test with its verdict sentence out.

Conventions: a model trained with k seeds gives a (k, N) array of per-image mean squared
errors on the same N test images; its PSNR is the mean over seeds of the pooled PSNR
10 log10(1 / mean error) of each seed. Two models are compared on the same test images by
the paired bootstrap of :func:`regae.reports.stats.psnr_difference` (images resampled, the
seeds of each model kept together); classifiers by :func:`regae.reports.stats.compare_correct`
(exact McNemar for one seed each).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from regae.model.inference import per_image_mse
from regae.reports import stats

#: Bootstrap resamples: p-values down to 2 / (N_BOOT + 1) ~ 1e-3, and a (N_BOOT, 10,000)
#: resample-index array that stays ~160 MB.
N_BOOT = 2000


def image_errors(x_hat: torch.Tensor, x: torch.Tensor) -> np.ndarray:
    """Each image's mean squared error (N,) as float64 numpy (the statistics work on arrays)."""
    return per_image_mse(x_hat, x).numpy()


def seeds_psnr(errors: np.ndarray | Sequence[np.ndarray]) -> dict:
    """PSNR of a model from its (k, N) per-image errors: per-seed pooled PSNR, mean, std and a
    t-interval over seeds (std and interval are None for one seed)."""
    per_seed = stats.pooled_psnr(np.atleast_2d(np.asarray(errors, float)))  # (k,)
    return stats.mean_interval(per_seed) | {"per_seed": per_seed.tolist()}


def seeds_mean(values: Sequence[float]) -> dict:
    """mean, std and t-interval over seeds of one number per seed."""
    return stats.mean_interval(np.asarray(values, float)) | {"per_seed": [float(v) for v in values]}


def pm(summary: dict, digits: int = 2, scale: float = 1.0) -> str:
    """'17.79 ± 0.12' (mean ± std over seeds) or '17.79' for one seed."""
    mean = summary["mean"] * scale
    if summary.get("std") is None:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {summary['std'] * scale:.{digits}f}"


def compare_psnr(name_a: str, errors_a: np.ndarray, name_b: str, errors_b: np.ndarray, seed: int = 0) -> dict:
    """PSNR(A) − PSNR(B) in dB on the same test images: paired bootstrap, and the verdict sentence."""
    res = stats.psnr_difference(errors_a, errors_b, n_boot=N_BOOT, seed=seed)
    res["verdict"] = stats.verdict_of(res, name_a, name_b, "dB")
    return res


def compare_means(name_a: str, values_a: np.ndarray, name_b: str, values_b: np.ndarray, unit: str,
                  higher_is_better: bool = True, seed: int = 0, digits: int = 2, scale: float = 1.0) -> dict:
    """mean(A) − mean(B) of a per-image quantity ((N,) or (k, N), seeds averaged per image):
    paired bootstrap over the images, and the verdict sentence. ``scale`` multiplies the values
    for display (e.g. 100 for percentages)."""
    a = np.atleast_2d(np.asarray(values_a, float)).mean(0) * scale
    b = np.atleast_2d(np.asarray(values_b, float)).mean(0) * scale
    res = stats.paired_bootstrap(a, b, n_boot=N_BOOT, seed=seed)
    res["verdict"] = stats.verdict_of(res, name_a, name_b, unit, higher_is_better=higher_is_better, digits=digits)
    return res


def compare_accuracy(name_a: str, correct_a: Sequence[np.ndarray], name_b: str, correct_b: Sequence[np.ndarray],
                     seed: int = 0) -> dict:
    """Accuracy(A) − accuracy(B) in points on the same test images (lists of per-seed boolean vectors):
    exact McNemar for one seed each, else the paired bootstrap; and the verdict sentence."""
    res = stats.compare_correct(list(correct_a), list(correct_b), n_boot=N_BOOT, seed=seed)
    res["verdict"] = stats.verdict_of(res, name_a, name_b, "points", stats.POINTS_KEYS, digits=1)
    return res


def accuracy_text(summary: dict) -> str:
    """'96.4 % [95.5, 97.1]' from :func:`regae.reports.stats.accuracy_summary` (± std for several seeds)."""
    acc = 100 * summary["accuracy"]
    std = summary.get("std_over_seeds")
    centre = f"{acc:.1f} ± {100 * std:.1f} %" if std is not None else f"{acc:.1f} %"
    return f"{centre} [{100 * summary['ci_low']:.1f}, {100 * summary['ci_high']:.1f}]"


def p_text(result: dict) -> str:
    """The p-value of a comparison as printed in tables."""
    return stats.fmt_p(result["p"], result.get("n_boot"))


def short(result: dict) -> str:
    """The verdict's first clause and the p-value, for a table cell: 'A is better than B (p < 1.0e-03)'."""
    head = result["verdict"].split(":")[0].split(" (")[0]
    return f"{head} ({p_text(result)})"

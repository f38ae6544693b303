"""Uncertainty for every number the report compares: intervals and paired tests.

All functions take arrays and return plain floats/dicts, so they are tested alone.

* :func:`wilson_interval` — 95 % score interval of an accuracy k/n (Wilson 1927): with
  z = 1.96,  centre = (k + z²/2) / (n + z²),  half-width = z √(k(n-k)/n + z²/4) / (n + z²).
* :func:`mcnemar` — two classifiers scored on the same test items. Only the discordant items
  count: b = #(A right, B wrong), c = #(A wrong, B right). Under H0 (equal accuracy)
  b ~ Binomial(b + c, ½); the exact two-sided p = min(1, 2 · P(X ≤ min(b, c))).
* :func:`paired_difference_interval` — the 95 % Wald interval of the difference of two paired
  accuracies: d = (b - c) / n,  se = √(b + c − (b − c)² / n) / n,  d ± z · se.
* :func:`paired_bootstrap` — two per-item measurements on the same items (e.g. per-image
  squared error of two AEs). The mean difference d̄ = mean(a - b) is resampled over items
  with replacement B times; the 95 % interval is the 2.5/97.5 percentiles of d̄*, and the
  two-sided p = min(1, 2 · (1 + #{d̄* on the other side of 0}) / (B + 1)), so the smallest
  reportable p is 2 / (B + 1).
* :func:`mean_interval` — mean ± t-interval over a few seeds (Student t, n - 1 degrees of freedom).
* :func:`psnr_difference` — PSNR of a set is 10 log10(1 / MSE) with the MSE pooled over its
  pixels, so the paired bootstrap of a PSNR difference resamples the per-image squared errors
  and recomputes both pooled PSNRs on each resample.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import stats as sps

CONFIDENCE = 0.95
N_BOOT = 10_000
ALPHA = 1 - CONFIDENCE


def wilson_interval(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """(low, high) Wilson score interval of the proportion k/n."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"Expected 0 <= k <= n and n > 0, got k={k}, n={n}.")
    z = sps.norm.ppf(0.5 + confidence / 2)
    centre = (k + z * z / 2) / (n + z * z)
    half = z * math.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy(correct: np.ndarray, confidence: float = CONFIDENCE) -> dict[str, float | int]:
    """{'accuracy', 'ci_low', 'ci_high', 'n'} of a boolean per-item ``correct`` vector."""
    correct = np.asarray(correct, dtype=bool)
    k, n = int(correct.sum()), int(correct.size)
    lo, hi = wilson_interval(k, n, confidence)
    return {"accuracy": k / n, "ci_low": lo, "ci_high": hi, "n": n}


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, float | int]:
    """Exact McNemar test of two classifiers on the same items: {'a_only', 'b_only', 'p'}."""
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"Expected paired vectors of one shape, got {a.shape} and {b.shape}.")
    a_only, b_only = int((a & ~b).sum()), int((~a & b).sum())
    n = a_only + b_only
    p = 1.0 if n == 0 else min(1.0, 2 * float(sps.binom.cdf(min(a_only, b_only), n, 0.5)))
    return {"a_only": a_only, "b_only": b_only, "p": p}


def paired_difference_interval(a_only: int, b_only: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wald interval of acc(A) − acc(B) from the discordant counts of a paired comparison on n items."""
    z = sps.norm.ppf(0.5 + confidence / 2)
    d = (a_only - b_only) / n
    se = math.sqrt(max(0.0, a_only + b_only - (a_only - b_only) ** 2 / n)) / n
    return d - z * se, d + z * se


def _boot_p(observed: float, boots: np.ndarray) -> float:
    """Two-sided bootstrap p of 'difference = 0' (see module docstring)."""
    if observed == 0 and np.all(boots == 0):
        return 1.0
    other_side = np.sum(boots <= 0) if observed > 0 else np.sum(boots >= 0)
    return min(1.0, 2 * (1 + int(other_side)) / (len(boots) + 1))


def _boot_result(observed: float, boots: np.ndarray, n_boot: int, confidence: float) -> dict[str, float]:
    """{'estimate', 'ci_low', 'ci_high', 'p', 'n_boot'}: the percentile interval and p of bootstrap draws."""
    q = (1 - confidence) / 2
    lo, hi = np.quantile(boots, [q, 1 - q])
    return {"estimate": observed, "ci_low": float(lo), "ci_high": float(hi), "p": _boot_p(observed, boots),
            "n_boot": n_boot}


def bootstrap_statistic(
    a: np.ndarray, b: np.ndarray, statistic: Callable[[np.ndarray, np.ndarray], np.ndarray],
    n_boot: int = N_BOOT, seed: int = 0, confidence: float = CONFIDENCE, chunk: int = 500,
) -> dict[str, float]:
    """Paired bootstrap of ``statistic(a_rows, b_rows) -> (R,)`` over the items (axis -1).

    ``a``, ``b``: (n,) or (k, n) per-item values over the same n items (k rows, e.g. seeds, are
    resampled together; A and B may have different k). Returns {'estimate', 'ci_low', 'ci_high',
    'p', 'n_boot'}.
    """
    a, b = np.atleast_2d(np.asarray(a, float)), np.atleast_2d(np.asarray(b, float))
    if a.ndim != 2 or b.ndim != 2 or a.shape[-1] != b.shape[-1]:
        raise ValueError(f"Expected paired arrays over the same items, got shapes {a.shape} and {b.shape}.")
    n = a.shape[-1]
    observed = float(statistic(a[None], b[None])[0])
    rng = np.random.default_rng(seed)
    boots = []
    for start in range(0, n_boot, chunk):  # (chunk, n) indices at a time: memory stays O(chunk · n)
        i = rng.integers(0, n, size=(min(chunk, n_boot - start), n), dtype=np.int32)
        boots.append(statistic(a[:, i].transpose(1, 0, 2), b[:, i].transpose(1, 0, 2)))
    return _boot_result(observed, np.concatenate(boots), n_boot, confidence)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n_boot: int = N_BOOT, seed: int = 0,
                     confidence: float = CONFIDENCE) -> dict[str, float]:
    """Mean difference mean(a - b) over paired items with its bootstrap interval and p."""
    return bootstrap_statistic(a, b, lambda x, y: (x - y).mean(axis=(1, 2)), n_boot, seed, confidence)


def pooled_psnr(sq_err: np.ndarray) -> np.ndarray:
    """PSNR (dB) of sets given their per-item mean squared errors (..., n): 10 log10(1 / mean)."""
    return 10 * np.log10(1.0 / np.asarray(sq_err).mean(axis=-1))


def psnr_difference(sq_err_a: np.ndarray, sq_err_b: np.ndarray, n_boot: int = N_BOOT, seed: int = 0,
                    confidence: float = CONFIDENCE) -> dict[str, float]:
    """PSNR(A) - PSNR(B) in dB from per-image mean squared errors (n,) or (seeds, n), paired bootstrap.

    With several seeds per model, each model's PSNR is the mean over its seeds of the pooled PSNR.
    """
    def stat(x: np.ndarray, y: np.ndarray) -> np.ndarray:  # (R, k, n) -> (R,)
        return pooled_psnr(x).mean(axis=1) - pooled_psnr(y).mean(axis=1)

    return bootstrap_statistic(sq_err_a, sq_err_b, stat, n_boot, seed, confidence)


def unpaired_psnr_difference(sq_err_a: np.ndarray, sq_err_b: np.ndarray, n_boot: int = N_BOOT, seed: int = 0,
                             confidence: float = CONFIDENCE, chunk: int = 500) -> dict[str, float]:
    """PSNR(A) - PSNR(B) in dB for two *different* sets of images (per-image MSEs (n_a,), (n_b,)),
    each set resampled on its own; same keys as :func:`psnr_difference`."""
    a, b = np.asarray(sq_err_a, float), np.asarray(sq_err_b, float)
    observed = float(pooled_psnr(a) - pooled_psnr(b))
    rng = np.random.default_rng(seed)
    boots = []
    for start in range(0, n_boot, chunk):
        k = min(chunk, n_boot - start)
        ia = rng.integers(0, len(a), size=(k, len(a)), dtype=np.int32)
        ib = rng.integers(0, len(b), size=(k, len(b)), dtype=np.int32)
        boots.append(pooled_psnr(a[ia]) - pooled_psnr(b[ib]))
    return _boot_result(observed, np.concatenate(boots), n_boot, confidence)


def mean_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> dict[str, float | int | None]:
    """{'mean', 'std' (sample, ddof 1), 'ci_low', 'ci_high', 'n'}: Student-t interval over seeds.

    With one value the std and interval do not exist (None).
    """
    v = np.asarray(values, dtype=float)
    n, mean = int(v.size), float(v.mean())
    if n < 2:
        return {"mean": mean, "std": None, "ci_low": None, "ci_high": None, "n": n}
    std = float(v.std(ddof=1))
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return {"mean": mean, "std": std, "ci_low": mean - half, "ci_high": mean + half, "n": n}


def fmt_p(p: float, n_boot: int | None = None) -> str:
    """'p = 0.032', 'p = 3.1e-07', or 'p < 2.0e-04' at a bootstrap's resolution floor."""
    if n_boot is not None and p <= 2 / (n_boot + 1) + 1e-15:
        return f"p < {2 / (n_boot + 1) * 1.0001:.1e}"
    if p >= 0.001:
        return f"p = {p:.3f}"
    return f"p = {p:.1e}"


def verdict(name_a: str, name_b: str, diff: float, ci: tuple[float, float], p: float, unit: str,
            higher_is_better: bool = True, n_boot: int | None = None, digits: int = 2) -> str:
    """One sentence: which of A and B is better and by how much (with interval and p), or
    'no significant difference' when p >= 0.05."""
    ptxt = fmt_p(p, n_boot)
    interval = f"95 % CI [{ci[0]:+.{digits}f}, {ci[1]:+.{digits}f}] {unit}".rstrip()
    if p >= ALPHA:
        return f"no significant difference between {name_a} and {name_b} ({name_a} − {name_b} = " \
               f"{diff:+.{digits}f} {unit}, {interval}, {ptxt})".replace("  ", " ")
    a_better = (diff > 0) == higher_is_better
    best, other = (name_a, name_b) if a_better else (name_b, name_a)
    return f"{best} is better than {other}: {name_a} − {name_b} = {diff:+.{digits}f} {unit} " \
           f"({interval}, {ptxt})".replace("  ", " ")


def compare_correct(a: list[np.ndarray], b: list[np.ndarray], n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """A vs B classifiers on the same test items; each is a list of per-seed boolean ``correct`` vectors.

    Difference in accuracy (points of 100 %) with a 95 % interval and a p-value: for one seed each,
    the exact McNemar test with the paired Wald interval; with several seeds, the paired bootstrap
    of the per-item accuracy averaged over seeds (the seed-level McNemar p-values are listed too).
    """
    per_seed = [mcnemar(a[i % len(a)], b[i % len(b)]) for i in range(max(len(a), len(b)))]
    if len(a) == 1 and len(b) == 1:
        m = per_seed[0]
        n = len(a[0])
        lo, hi = paired_difference_interval(m["a_only"], m["b_only"], n)
        diff, p, test, boots = (m["a_only"] - m["b_only"]) / n, m["p"], "exact McNemar", None
    else:
        ma = np.mean([np.asarray(c, float) for c in a], axis=0)  # (n,) per-item accuracy over seeds
        mb = np.mean([np.asarray(c, float) for c in b], axis=0)
        boot = paired_bootstrap(ma, mb, n_boot, seed)
        diff, lo, hi, p = boot["estimate"], boot["ci_low"], boot["ci_high"], boot["p"]
        test, boots = "paired bootstrap over test images (seed-averaged)", n_boot
    return {"diff_points": 100 * diff, "ci_low_points": 100 * lo, "ci_high_points": 100 * hi, "p": p, "test": test,
            "n_boot": boots, "p_mcnemar_per_seed": [m["p"] for m in per_seed]}


def accuracy_summary(correct: list[np.ndarray], n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Accuracy of one feature set over its seeds: mean, std over seeds, and a 95 % interval
    (Wilson for one seed; paired bootstrap of the seed-averaged per-item accuracy otherwise)."""
    per_seed = [float(np.mean(c)) for c in correct]
    if len(correct) == 1:
        acc = accuracy(correct[0])
        lo, hi = acc["ci_low"], acc["ci_high"]
    else:
        m = np.mean([np.asarray(c, float) for c in correct], axis=0)
        boot = paired_bootstrap(m, np.zeros_like(m), n_boot, seed)
        lo, hi = boot["ci_low"], boot["ci_high"]
    return {"accuracy": float(np.mean(per_seed)), "std_over_seeds": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1
            else None, "ci_low": lo, "ci_high": hi, "per_seed": per_seed, "n_test": int(len(correct[0]))}


def error_side(summary: dict) -> dict:
    """The error rate of an :func:`accuracy_summary`: ``{'error', 'ci_low', 'ci_high', 'n_test'}`` with
    error = 1 − accuracy and interval [1 − high, 1 − low] (for one seed the Wilson interval of the
    n − k wrong items: the score interval is symmetric under k -> n − k)."""
    return {"error": 1 - summary["accuracy"], "ci_low": 1 - summary["ci_high"], "ci_high": 1 - summary["ci_low"],
            "n_test": summary["n_test"]}


#: keys of a comparison result: (difference, interval low, interval high)
ESTIMATE_KEYS = ("estimate", "ci_low", "ci_high")
#: the same for accuracy comparisons (:func:`compare_correct`), in percentage points
POINTS_KEYS = ("diff_points", "ci_low_points", "ci_high_points")


def verdict_of(result: dict, name_a: str, name_b: str, unit: str, keys: tuple[str, str, str] = ESTIMATE_KEYS,
               **kwargs) -> str:
    """:func:`verdict` of a comparison result (a bootstrap or :func:`compare_correct` dict)."""
    diff, lo, hi = (result[k] for k in keys)
    return verdict(name_a, name_b, diff, (lo, hi), result["p"], unit, n_boot=result.get("n_boot"), **kwargs)


def pairwise(values: dict[str, np.ndarray], test: Callable[..., dict], unit: str, seed: int = 0) -> list[dict]:
    """``test(values[a], values[b], seed=seed)`` for every pair a before b, each result with its names
    and its :func:`verdict` sentence (``test`` returns estimate, ci_low, ci_high, p, n_boot)."""
    names, out = list(values), []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            r = test(values[a], values[b], seed=seed)
            r.update(a=a, b=b, sentence=verdict_of(r, a, b, unit))
            out.append(r)
    return out

"""A paper's numbers beside ours: the published rows, and whether one of ours agrees with one of theirs.

A reproduced figure agrees when it is within the stated tolerance of the paper's (e.g. 0.2 points
of test error) or the paper's value lies inside our 95 % interval (which holds the spread over our
training seeds and test images, not the paper's own noise, which is unknown).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from regae.reports import stats
from regae.study.compare import N_BOOT
from regae.study.figures import curves


@dataclass(frozen=True)
class Published:
    """``rows``: row name -> the paper's values, one per entry of ``columns``; ``source``: where the numbers
    were read and what could not be confirmed (printed with every table)."""

    rows: dict[str, tuple[float, ...]]
    columns: tuple[str, ...]
    source: str


def agreement(paper: float, ours: float, interval: tuple[float, float] | None, tolerance: float) -> dict:
    """Whether ``ours`` agrees with ``paper``: ``|ours − paper| ≤ tolerance`` or ``paper`` inside ``interval``.

    Returns ``{"holds", "difference", "within_tolerance", "paper_in_interval", "text"}``.
    """
    diff = ours - paper
    within = abs(diff) <= tolerance + 1e-12
    inside = interval is not None and interval[0] <= paper <= interval[1]
    holds = within or inside
    why = ("within tolerance" if within else "") + (" and " if within and inside else "") + \
          ("paper's value in our interval" if inside else "")
    text = f"yes ({why}; {diff:+.2f})" if holds else f"**no** ({diff:+.2f}, tolerance ±{tolerance:g})"
    return {"holds": bool(holds), "difference": diff, "within_tolerance": bool(within), "paper_in_interval": bool(inside),
            "tolerance": tolerance, "text": text}


def figure_cell(summary: dict, unit: str, digits: int = 2) -> str:
    """'1.52 ± 0.04 % [1.41, 1.63]' from ``{"mean", "std", "ci_low", "ci_high"}`` (std None for one seed)."""
    mean, std = summary["mean"], summary.get("std")
    centre = f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None and math.isfinite(std) else "")
    interval = ""
    if summary.get("ci_low") is not None and summary.get("ci_high") is not None:
        interval = f" [{summary['ci_low']:.{digits}f}, {summary['ci_high']:.{digits}f}]"
    return f"{centre}{' ' + unit if unit else ''}{interval}"


def error_summary(correct: list[np.ndarray], seed: int = 0) -> dict:
    """Test error (%) of a classifier trained with several seeds, from each seed's boolean ``correct`` (N,):
    ``{"mean", "std", "ci_low", "ci_high", "per_seed"}``, the error side of
    :func:`regae.reports.stats.accuracy_summary` (std None and a Wilson interval for one seed)."""
    acc = stats.accuracy_summary(correct, n_boot=N_BOOT, seed=seed)
    err = stats.error_side(acc)
    return {"mean": 100 * err["error"], "std": None if acc["std_over_seeds"] is None else 100 * acc["std_over_seeds"],
            "ci_low": 100 * err["ci_low"], "ci_high": 100 * err["ci_high"],
            "per_seed": [100 * (1 - a) for a in acc["per_seed"]]}


def fine_tuning_figure(ctx, key: str, tuned: dict[str, list]):
    """Draw each row's validation error per fine-tuning epoch (mean over its seeds' :class:`~regae.study.runner.Tuned`)
    into the reproduction's figures; returns the figure's path relative to the report."""
    path, rel = ctx.figure_path(key, "curves.png")
    series = {row: (range(1, len(runs[0].val_acc) + 1), 100 * (1 - np.mean([r.val_acc for r in runs], axis=0)))
              for row, runs in tuned.items()}
    curves(path, series, "fine-tuning epoch", "validation error (%)", "Fine-tuning: validation error (mean over seeds)",
           logy=True, integer_x=True)
    return rel


def time_rows(pre: dict[str, list], tuned: dict[str, list]) -> list[list]:
    """Per row: seeds, pre-training and fine-tuning wall time per seed, final validation error."""
    return [[row, len(runs), f"{np.mean([r.seconds for r in pre[row]]):.0f} s", f"{np.mean([r.seconds for r in runs]):.0f} s",
             f"{100 * (1 - np.mean([r.val_acc[-1] for r in runs])):.2f} %"] for row, runs in tuned.items()]

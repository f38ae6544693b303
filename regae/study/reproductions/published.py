"""A paper's numbers beside ours: the published rows, and whether one of ours agrees with one of theirs.

A reproduced figure agrees when it is within the stated tolerance of the paper's (e.g. 0.2 points
of test error) or the paper's value lies inside our 95 % interval (which holds the spread over our
training seeds and test images, not the paper's own noise, which is unknown).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


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

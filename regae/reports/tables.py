"""Numbers -> report text and JSON: one formatting rule for the markdown and metrics.json.

PSNR of two identical images is +inf. Markdown shows it as ``∞``; in JSON the one writer
(:func:`regae.checkpoints.write.json_safe`) writes it as the string ``"inf"`` (NaN as ``null``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch


def mean_std(values: Sequence[float] | torch.Tensor | np.ndarray) -> dict[str, float | None]:
    """Mean and (population) standard deviation; with any +inf the mean is inf and std undefined (None)."""
    v = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values, dtype=np.float64)
    if np.isinf(v).any():
        return {"mean": float(v.mean()), "std": None}
    return {"mean": float(v.mean()), "std": float(v.std())}


def fmt(x: float | None, digits: int = 2) -> str:
    """A number as the report prints it: fixed ``digits`` decimals, ∞ for infinity, n/a for None/NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.{digits}f}"


def fmt_mean_std(stats: dict[str, float | None], digits: int = 2) -> str:
    """'12.34 ± 0.56'; just '∞' when the mean is infinite (every pair identical)."""
    if stats["std"] is None:
        return fmt(stats["mean"], digits)
    return f"{fmt(stats['mean'], digits)} ± {fmt(stats['std'], digits)}"


def pct(x: float, digits: int = 2) -> str:
    """An accuracy in [0, 1] as a percentage string: 0.9712 -> '97.12 %'."""
    return f"{100 * x:.{digits}f} %"


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; cells are str()-ed as they are."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def parse_md_tables(markdown: str) -> list[list[list[str]]]:
    """Every table in ``markdown`` as rows of cell strings (header first, separator dropped)."""
    tables, current = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= set("-: ") and c for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def fmt_number(value: float | int | None, digits: int = 2) -> str:
    """A number for a table: ``digits`` decimals from 1 up, 4 below, scientific under 1e-3;
    ints with thousands separators; ∞ / n/a spelled out."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if isinstance(value, int):
        return f"{value:,}"
    if value == 0 or abs(value) >= 1:
        return f"{value:.{digits}f}"
    return f"{value:.4f}" if abs(value) >= 1e-3 else f"{value:.2e}"


def number_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """:func:`md_table` with numbers through :func:`fmt_number` (strings as they are)."""
    return md_table(header, [[fmt_number(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                              for v in row] for row in rows])


def image(rel: Any, caption: str) -> str:
    """Markdown for a figure at ``rel`` (a path relative to the report folder)."""
    return f"![{caption}]({Path(rel).as_posix()})"

"""Figures shared by the study experiments: image rows, weight tiles, curves, histograms.

All functions write one PNG (matplotlib's Agg backend, no display needed) and return its path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from regae.checkpoints.write import atomic_write_figure  # noqa: E402


def _save(fig, path: Path) -> Path:
    atomic_write_figure(fig, path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def image_rows(path: Path, rows: Sequence[tuple[str, Tensor]], title: str | None = None,
               col_titles: Sequence[str] | None = None) -> Path:
    """One row per (label, images (n, 1, 28, 28) in [0, 1]), grey, labels on the left."""
    n = max(len(imgs) for _, imgs in rows)
    fig, axes = plt.subplots(len(rows), n, figsize=(0.9 * n + 1.2, 0.95 * len(rows) + (0.4 if title else 0)),
                             squeeze=False)
    for r, (label, imgs) in enumerate(rows):
        for c in range(n):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            if c < len(imgs):
                ax.imshow(imgs[c].detach().cpu().reshape(28, 28).clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
            if r == 0 and col_titles is not None and c < len(col_titles):
                ax.set_title(col_titles[c], fontsize=8)
        axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(wspace=0.05, hspace=0.08)
    return _save(fig, path)


def tiles(path: Path, weights: Tensor, title: str, ncols: int | None = None, symmetric: bool = True) -> Path:
    """Each row of ``weights`` (k, 784) as a 28x28 tile, each scaled to its own range.

    ``symmetric`` maps ±max|w| to the ends of a diverging colour map (0 is grey-white).
    """
    k = weights.shape[0]
    ncols = ncols or math.ceil(math.sqrt(k))
    nrows = math.ceil(k / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(0.75 * ncols, 0.75 * nrows + 0.4), squeeze=False)
    w = weights.detach().cpu().float()
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < k:
            tile = w[i].reshape(28, 28)
            if symmetric:
                m = float(tile.abs().max()) or 1.0
                ax.imshow(tile.numpy(), cmap="RdBu_r", vmin=-m, vmax=m)
            else:
                ax.imshow(tile.numpy(), cmap="gray")
    fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(wspace=0.04, hspace=0.04)
    return _save(fig, path)


def curves(path: Path, series: dict[str, tuple[Sequence[float], Sequence[float]]], xlabel: str, ylabel: str,
           title: str, logy: bool = False, markers: bool = False, integer_x: bool = False) -> Path:
    """Line plot of named (x, y) series."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, (xs, ys) in series.items():
        ax.plot(list(xs), list(ys), label=name, marker="o" if markers else None, markersize=4, linewidth=1.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if logy:
        ax.set_yscale("log")
    if integer_x:
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def bars(path: Path, values: dict[str, float], ylabel: str, title: str, annotate: str = "{:.1f}") -> Path:
    """Bar chart of named values, each bar annotated."""
    fig, ax = plt.subplots(figsize=(min(10, max(4, 1.1 * len(values))), 3.4))
    names = list(values)
    ax.bar(range(len(names)), [values[n] for n in names], color="tab:blue")
    for i, n in enumerate(names if annotate else ()):
        ax.annotate(annotate.format(values[n]), (i, values[n]), ha="center", va="bottom", fontsize=8)
    short = all(len(n) <= 3 for n in names)
    ax.set_xticks(range(len(names)), names, rotation=0 if short else 20, ha="center" if short else "right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def histograms(path: Path, samples: dict[str, Tensor], xlabel: str, title: str, bins: int = 60,
               logy: bool = True) -> Path:
    """Overlaid histograms of named 1-d samples."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    lo = min(float(s.min()) for s in samples.values())
    hi = max(float(s.max()) for s in samples.values())
    edges = torch.linspace(lo, hi if hi > lo else lo + 1, bins + 1).numpy()
    for name, s in samples.items():
        ax.hist(s.detach().cpu().flatten().numpy(), bins=edges, histtype="step", linewidth=1.3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    if logy:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def heatmaps(path: Path, rows: Sequence[tuple[str, Sequence[Tensor]]], title: str,
             col_titles: Sequence[str] | None = None) -> Path:
    """A grid of heat maps (each a 2-d tensor, colour scale from 0), one labelled row per model."""
    ncols = max(len(maps) for _, maps in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(1.5 * ncols + 1.8, 1.5 * len(rows) + 0.4), squeeze=False)
    for r, (label, maps) in enumerate(rows):
        for c in range(ncols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(maps):
                ax.imshow(maps[c].detach().cpu().numpy(), cmap="magma", vmin=0)
            if r == 0 and col_titles is not None:
                ax.set_title(col_titles[c], fontsize=8)
        axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(wspace=0.05, hspace=0.08)
    return _save(fig, path)

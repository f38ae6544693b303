"""Learning curves and training records of a section's models: the figure, the table, the metrics.

Every trained model carries its training loss per epoch and its validation loss and PSNR
after each epoch (on held-out training images). A group is one model trained with several
seeds; its curve is the mean over seeds with the min–max band. "Last-quarter gain" is the
validation PSNR of the last epoch minus that of the epoch three quarters through: close to 0
when the model has stopped improving at its budget (with a cosine schedule the last steps are
small, so the pilots with longer budgets in :mod:`regae.study.budgets` are the stronger evidence).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from regae.reports.tables import number_table  # noqa: E402
from regae.study.figures import _save  # noqa: E402
from regae.study.runner import Trained  # noqa: E402


def last_quarter_gain(curve: Sequence[float]) -> float:
    """curve[-1] − curve[i] with i the epoch three quarters through (0 for a 1-epoch curve)."""
    if len(curve) < 2:
        return 0.0
    i = min(len(curve) - 2, (3 * len(curve)) // 4 - 1) if len(curve) >= 4 else 0
    return float(curve[-1] - curve[i])


def group_record(runs: Sequence[Trained]) -> dict:
    """JSON-able per-group record: budget, seeds, curves per seed, times, final and last-quarter gain."""
    val = np.array([r.val_psnr for r in runs], float)  # (k, epochs)
    return {
        "budget": replace(runs[0].budget, seeds=len(runs)).describe(),
        "recipe": runs[0].budget.recipe, "seeds": [r.seed for r in runs],
        "train_loss_per_epoch": [r.train_loss for r in runs], "val_loss_per_epoch": [r.val_loss for r in runs],
        "val_psnr_per_epoch": [r.val_psnr for r in runs],
        "final_val_psnr_mean": float(val[:, -1].mean()), "last_quarter_gain_db": last_quarter_gain(val.mean(0)),
        "train_seconds": [r.seconds for r in runs], "train_cpu_seconds": [r.cpu_seconds for r in runs],
        "load": [r.load for r in runs], "steps": runs[0].steps,
    }


def records(groups: dict[str, Sequence[Trained]]) -> dict[str, dict]:
    return {name: group_record(runs) for name, runs in groups.items()}


def training_table(groups: dict[str, Sequence[Trained]]) -> str:
    """Markdown: model, recipe, seeds, epochs, final validation PSNR, last-quarter gain, time."""
    rows = []
    for name, runs in groups.items():
        rec = group_record(runs)
        wall, cpu = sum(rec["train_seconds"]), sum(rec["train_cpu_seconds"])
        rows.append([name, rec["recipe"], len(runs), runs[0].budget.epochs, f"{rec['final_val_psnr_mean']:.2f}",
                     f"{rec['last_quarter_gain_db']:+.2f}",
                     f"{wall:.0f} s wall / {cpu:.0f} s CPU (load {np.mean(rec['load']):.1f})"])
    return number_table(["model", "recipe", "seeds", "epochs", "final val PSNR (dB)", "last-quarter gain (dB)",
                  "training time, all seeds"], rows)


def figure(path: Path, groups: dict[str, Sequence[Trained]], title: str,
           references: dict[str, float] | None = None) -> Path:
    """Two panels: training loss per epoch (log) and validation PSNR per epoch; mean over seeds,
    min–max band when there are several; ``references`` are dashed horizontal PSNR lines."""
    fig, (ax_loss, ax_psnr) = plt.subplots(1, 2, figsize=(11, 3.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, runs) in enumerate(groups.items()):
        c = colours[i % len(colours)]
        for ax, attr in ((ax_loss, "train_loss"), (ax_psnr, "val_psnr")):
            values = np.array([getattr(r, attr) for r in runs], float)  # (k, epochs)
            epochs = np.arange(1, values.shape[1] + 1)
            ax.plot(epochs, values.mean(0), color=c, linewidth=1.4, marker="o" if len(epochs) <= 12 else None,
                    markersize=3, label=f"{name} ({len(runs)} seed{'s' if len(runs) > 1 else ''})")
            if len(runs) > 1:
                ax.fill_between(epochs, values.min(0), values.max(0), color=c, alpha=0.2, linewidth=0)
    for j, (name, value) in enumerate((references or {}).items()):
        ax_psnr.axhline(value, color="0.3", linestyle=("--", ":", "-.")[j % 3], linewidth=1, label=name)
    ax_loss.set_yscale("log")
    ax_loss.set_ylabel("training loss (mean over the epoch)")
    ax_psnr.set_ylabel("validation PSNR (dB)")
    for ax in (ax_loss, ax_psnr):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax_psnr.legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def section_block(ctx, key: str, groups: dict[str, Sequence[Trained]], title: str = "Learning curves",
                  references: dict[str, float] | None = None) -> tuple[str, Path]:
    """(markdown: curve figure + training table, the figure's relative path) for a section."""
    path, rel = ctx.figure_path(key, "learning-curves.png")
    figure(path, groups, f"{title}: training loss and validation PSNR per epoch", references)
    md = "\n\n".join([
        f"![learning curves: training loss and validation PSNR per epoch]({rel.as_posix()})",
        training_table(groups),
    ])
    return md, rel

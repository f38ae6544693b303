"""What a training run shows while it runs: a progress bar, or one line per epoch.

In a terminal, :class:`ProgressBar` is Lightning's tqdm bar with the training loss and the
validation PSNR (without Lightning's logger version number). Without a bar
(``--trainer.enable_progress_bar false``, the default when stdout is not a terminal, e.g. a
Slurm log), :class:`EpochSummary` prints one line per epoch instead; it also prints one line
when training starts (with the data module's own line), in place of Lightning's model summary table::

    data: mnist: 1x28x28, 10 classes, train 60000 / test 10000 images, 5000 of the training images for validation
    training 309,553 parameters on cpu x1: 430 batches per epoch, at most 20 epochs; checkpoints in runs/sparse/checkpoints
    epoch 3/20  step 1290  train/loss 0.0213  val/psnr 18.42 dB  (41 s)
    epoch 4/20  step 1720  train/loss 0.0198  val/psnr 18.97 dB  (52 s; threads 2→1 from step 1302: other processes used up to 1.0 of 2 cores)

The thread count :class:`~regae.training.core_share.CoreShare` sets is stated once per epoch,
on the epoch's line, when it changed during the epoch (the bar shows the current count).
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, TQDMProgressBar

from regae.training.core_share import CoreShare


class ProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar showing ``loss`` and ``val/psnr`` (in dB), not the logger's version."""

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        if isinstance(items.get("val/psnr"), (int, float)):
            items["val/psnr"] = f"{items['val/psnr']:.2f} dB"
        share = core_share(trainer)
        if share is not None and share.changes:
            items["threads"] = share.changes[-1].threads
        return items


def core_share(trainer: pl.Trainer) -> CoreShare | None:
    """The run's :class:`CoreShare` callback, if it has one."""
    return next((c for c in trainer.callbacks if isinstance(c, CoreShare)), None)


def thread_note(share: CoreShare | None, since_step: int) -> str:
    """'threads 2→1 from step 1302: other processes used 1.0 of 2 cores' for the changes from
    ``since_step`` on; '' when there were none."""
    if share is None:
        return ""
    changes = [c for c in share.changes if c.step >= since_step]
    if not changes:
        return ""
    before = [c for c in share.changes if c.step < since_step]
    counts = [before[-1].threads if before else share.start_threads] + [c.threads for c in changes]
    most = max(c.others for c in changes)
    return (f"threads {'→'.join(map(str, counts))} from step {changes[0].step}: other processes used "
            f"up to {most:.1f} of {share.cores} cores")


class EpochSummary(Callback):
    """On global rank 0: one line when training starts, and one per epoch when there is no progress bar.

    ``every``: a line every this many epochs (and after the last); ``prefix`` starts each line.
    """

    def __init__(self, stream: Any = None, every: int = 1, prefix: str = "") -> None:
        self.stream = stream  # None: sys.stdout at print time (so redirections apply)
        self.every, self.prefix = max(1, int(every)), prefix
        self._start = 0.0
        self._loss_sum: torch.Tensor | None = None
        self._batches = 0
        self._val_psnr: float | None = None  # from a validation run within this epoch only
        self._val_acc: float | None = None  # a classifier's (regae.model.classifier), likewise
        self._since = 0  # the global step of the last line: thread changes from it on go on the next line

    def _active(self, trainer: pl.Trainer) -> bool:
        return trainer.progress_bar_callback is None and trainer.is_global_zero and not trainer.sanity_checking

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()  # a run resumed mid-epoch gets no on_train_epoch_start first
        self._since = trainer.global_step
        if trainer.is_global_zero:
            data = getattr(trainer.datamodule, "describe", None)
            lines = ([f"data: {data()}"] if callable(data) else []) + [start_line(trainer, pl_module)]
            print("\n".join(self.prefix + line for line in lines), file=self.stream or sys.stdout, flush=True)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start, self._loss_sum, self._batches = time.perf_counter(), None, 0
        self._val_psnr = self._val_acc = None

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor):  # summed on the device: no host sync per step
            loss = loss.detach()
            self._loss_sum = loss if self._loss_sum is None else self._loss_sum + loss
            self._batches += 1

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._val_psnr, self._val_acc = _metric(trainer, "val/psnr"), _metric(trainer, "val/acc")

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._active(trainer):
            return
        epoch = trainer.current_epoch + 1
        if epoch % self.every and epoch != trainer.max_epochs:
            return
        mean_loss = self._loss_sum.item() / self._batches if self._loss_sum is not None else None
        print(self.prefix + summary_line(trainer.current_epoch, trainer.max_epochs, trainer.global_step, trainer.max_steps,
                           mean_loss, self._val_psnr, time.perf_counter() - self._start,
                           thread_note(core_share(trainer), self._since), self._val_acc),
              file=self.stream or sys.stdout, flush=True)
        self._since = trainer.global_step


def start_line(trainer: pl.Trainer, pl_module: pl.LightningModule) -> str:
    """One line in place of Lightning's model summary table: size, device, budget, where checkpoints go."""
    n_params = sum(p.numel() for p in pl_module.parameters())
    budget = [f"{trainer.max_epochs} epochs" if trainer.max_epochs not in (None, -1) else "",
              f"{trainer.max_steps} steps" if trainer.max_steps != -1 else ""]
    line = (f"training {n_params:,} parameters on {trainer.strategy.root_device.type} x{trainer.world_size}: "
            f"{trainer.num_training_batches} batches per epoch, at most {' or '.join(b for b in budget if b) or '?'}")
    ckpt = trainer.checkpoint_callback
    return line + (f"; checkpoints in {ckpt.dirpath}" if ckpt is not None and getattr(ckpt, "dirpath", None) else "")


def _metric(trainer: pl.Trainer, key: str) -> float | None:
    value = trainer.callback_metrics.get(key)
    return float(value) if value is not None else None


def summary_line(epoch: int, max_epochs: int | None, step: int, max_steps: int, loss: float | None,
                 val_psnr: float | None, seconds: float, note: str = "", val_acc: float | None = None) -> str:
    """``epoch 3/20  step 1290  train/loss 0.0213  val/psnr 18.42 dB  (41 s[; note])``; ``epoch`` counts from 0;
    a classifier's line has ``val/acc 98.12 %`` instead of the PSNR.

    The totals are shown when they bound the run: ``max_epochs`` unless it is None or -1,
    ``max_steps`` unless it is -1.
    """
    parts = [f"epoch {epoch + 1}" + (f"/{max_epochs}" if max_epochs not in (None, -1) else "")]
    parts.append(f"step {step}" + (f"/{max_steps}" if max_steps not in (None, -1) else ""))
    if loss is not None:
        parts.append(f"train/loss {loss:.4g}")
    if val_psnr is not None:
        parts.append(f"val/psnr {val_psnr:.2f} dB" if math.isfinite(val_psnr) else f"val/psnr {val_psnr} dB")
    if val_acc is not None:
        parts.append(f"val/acc {100 * val_acc:.2f} %")
    return "  ".join(parts) + f"  ({seconds:.0f} s{'; ' + note if note else ''})"

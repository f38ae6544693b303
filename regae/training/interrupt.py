"""Ctrl-C during training: finish the step, save it, stop, and say so in one line.

Lightning answers a ``KeyboardInterrupt`` by calling ``sys.exit(1)`` wherever the interrupt
landed: mid-step, nothing saved since the last periodic checkpoint. :class:`SaveOnInterrupt`
instead catches the first SIGINT of a fit as a flag; at the end of the current training batch
(after the optimizer step: weights and optimizer state agree) it saves ``last.ckpt`` through the
run's checkpoint callback and stops training. The command then exits with status 130 and one
line naming the step and the file (:class:`TrainingInterrupted`); ``--ckpt_path last`` resumes
there. A second Ctrl-C interrupts at once, as before. Under DDP the ranks agree on the flag with
one all-reduce per step, so all of them save the same step.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback

from regae.errors import RegaeError
from regae.training.checkpointing import RegaeCheckpoint


class TrainingInterrupted(RegaeError):
    """Training stopped on Ctrl-C after saving its last step (the CLI exits with status 130)."""

    exit_code = 130


class SaveOnInterrupt(Callback):
    """The first SIGINT of a fit stops training at the end of its step, saved (module docstring)."""

    def __init__(self) -> None:
        self.requested = False
        self.stopped_at: int | None = None
        self.saved: Path | None = None
        self._previous: Any = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Installed before training starts (and before its first line is printed), for the whole fit."""
        if stage != "fit":
            return
        self.requested, self.stopped_at, self.saved = False, None, None
        try:
            self._previous = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread: leave Ctrl-C as it is
            self._previous = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:  # the second Ctrl-C: at once
            raise KeyboardInterrupt
        self.requested = True

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        stop = self.requested
        if trainer.world_size > 1:  # every rank saves the same step
            flag = torch.tensor(float(stop), device=pl_module.device)
            stop = bool(trainer.strategy.reduce(flag, reduce_op="max") > 0)
        if not stop:
            return
        self.stopped_at = trainer.global_step
        ckpt = trainer.checkpoint_callback
        if isinstance(ckpt, RegaeCheckpoint):
            self.saved = ckpt.save_now(trainer)
        elif ckpt is not None and getattr(ckpt, "dirpath", None):
            self.saved = Path(ckpt.dirpath) / "last.ckpt"
            trainer.save_checkpoint(self.saved)
        trainer.should_stop = True

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._restore()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._restore()

    def _restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def error(self) -> TrainingInterrupted | None:
        """The one-line error of a fit this callback stopped (None if it did not)."""
        if self.stopped_at is None:
            return None
        where = f"saved {self.saved}; resume with --ckpt_path last" if self.saved else "nothing saved (no checkpoints)"
        return TrainingInterrupted(f"interrupted at step {self.stopped_at}: {where}")

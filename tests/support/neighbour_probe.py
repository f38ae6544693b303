"""A callback for tests/training/test_core_share.py: watches :class:`regae.training.core_share.CoreShare` in a ``regae fit``
that starts beside busy neighbours (PIDs in ``$NEIGHBOUR_PIDS``). When the thread count has
dropped it kills the neighbours; when it is back up (or after ``$NEIGHBOUR_PROBE_S`` seconds) it
writes what it saw to ``$NEIGHBOUR_PROBE_OUT`` and stops the run. Passed as
``--trainer.callbacks+=neighbour_probe.NeighbourProbe`` with ``tests/`` on PYTHONPATH."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import lightning.pytorch as pl
import torch

from regae.training.core_share import CoreShare


class NeighbourProbe(pl.Callback):
    def __init__(self) -> None:
        self.pids = [int(p) for p in os.environ["NEIGHBOUR_PIDS"].split(",")]
        self.t0 = time.monotonic()
        self.killed_at_step: int | None = None

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args) -> None:
        share = next(c for c in trainer.callbacks if isinstance(c, CoreShare))
        threads = torch.get_num_threads()
        if self.killed_at_step is None and threads < share.start_threads:
            for pid in self.pids:
                os.kill(pid, signal.SIGKILL)
            self.killed_at_step = trainer.global_step
        back = self.killed_at_step is not None and threads == share.start_threads
        if back or time.monotonic() - self.t0 > float(os.environ.get("NEIGHBOUR_PROBE_S", "30")):
            self.seen = {"start": share.start_threads, "active": share.active, "changes": share.changes,
                         "killed_at_step": self.killed_at_step, "threads": threads}
            trainer.should_stop = True

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit":
            self.seen: dict = {}

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit":  # after fit, `regae fit` tests the weights: another setup/teardown
            Path(os.environ["NEIGHBOUR_PROBE_OUT"]).write_text(json.dumps(self.seen))

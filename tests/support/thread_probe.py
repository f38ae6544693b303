"""A callback for tests/threads/test_policy.py: each process of a ``regae fit`` writes, when training
starts, its rank, torch's intra-op thread count and the OpenMP variables it sees to
``$THREAD_PROBE_DIR/rank<N>.json``. Passed as ``--trainer.callbacks+=thread_probe.ThreadProbe``
with ``tests/`` on PYTHONPATH, so the DDP processes Lightning starts load it too."""

from __future__ import annotations

import json
import os
from pathlib import Path

import lightning.pytorch as pl
import torch


class ThreadProbe(pl.Callback):
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        names = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
        seen = {k: os.environ.get(k) for k in names}
        out = Path(os.environ["THREAD_PROBE_DIR"]) / f"rank{trainer.global_rank}.json"
        out.write_text(json.dumps({"threads": torch.get_num_threads(), "world": trainer.world_size, **seen}))

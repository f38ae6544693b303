"""Training runs: the one Trainer builder and what every run gets from it.

* :mod:`~regae.training.trainer` — ``make_trainer``: the only place a ``lightning.Trainer`` is built;
* :mod:`~regae.training.lightning_cli` — ``regae fit|validate|test`` (LightningCLI);
* :mod:`~regae.training.fit` — the same runs from Python (``regae compare``, ``python -m launch``);
* :mod:`~regae.training.checkpointing`, :mod:`~regae.training.checkpoint_io` — resumable, atomic checkpoints;
* :mod:`~regae.training.core_share` — threads for the cores other processes leave free;
* :mod:`~regae.training.progress` — the bar, or one line per epoch;
* :mod:`~regae.training.noise` — third-party warnings and log lines a user cannot act on.
"""

from regae.training.checkpoint_io import AtomicCheckpointIO
from regae.training.checkpointing import RegaeCheckpoint
from regae.training.core_share import CoreShare
from regae.training.progress import EpochSummary, ProgressBar
from regae.training.trainer import make_trainer

__all__ = ["AtomicCheckpointIO", "CoreShare", "EpochSummary", "ProgressBar", "RegaeCheckpoint", "make_trainer"]

"""Third-party warnings and log lines a regae user cannot act on, filtered narrowly.

Each filter names the message *and* the module that issues it, so the same words from
anywhere else, and every warning about the user's own data or config (too few batches for
the logging interval, a GPU left unused, a checkpoint folder that is not empty, ...),
still reach the user. :func:`third_party_noise` applies them for the length of one
``regae fit|validate|test|predict``; the test suite lists the same warnings in
``pyproject.toml`` (``filterwarnings``), where ``tests/regae/training/test_noise.py`` checks they agree.

This module imports neither torch nor Lightning.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator
from typing import NamedTuple


class Noise(NamedTuple):
    """One known third-party warning: ``warnings.filterwarnings`` arguments, and why."""

    message: str  # regex matched at the start of the message
    module: str  # regex matched against the module the warning is attributed to
    category: type[Warning]
    why: str


WARNINGS: tuple[Noise, ...] = (
    Noise(r"`isinstance\(treespec, LeafSpec\)` is deprecated", r"lightning\.pytorch\.utilities\._pytree", FutureWarning,
          "torch >= 2.8 deprecates LeafSpec, which Lightning's own pytree helper still uses (once per loop)."),
    Noise(r"The `srun` command is available on your system but is not used", r"lightning\.fabric\.plugins"
          r"\.environments\.slurm", Warning,
          "Lightning sees srun on PATH (a login node, the local test cluster) while regae runs a plain process on "
          "purpose; launch/ submits real Slurm jobs itself."),
    Noise(r"Starting from v1\.9\.0, `tensorboardX` has been removed", r"lightning\.pytorch\.trainer\.connectors"
          r"\.logger_connector", UserWarning,
          "`--trainer.logger true` (the default) means CSV logs, or TensorBoard when it is installed; the README "
          "says so."),
    Noise(r".*LightningCLI.s args parameter is intended to run from within Python", r"lightning\.pytorch\.cli",
          UserWarning, "regae hands LightningCLI its own (preset-resolved) argv on purpose."),
    Noise(r"(?s).*(deprecated in v4\.|By default only one JsonargparseDeprecationWarning)", r"lightning\.pytorch\.cli", DeprecationWarning,
          "jsonargparse >= 4.49 deprecates calls Lightning's CLI makes (add_instantiator, skip_none, ...)."),
)

#: (logger name, message regex) of Lightning's info lines that say nothing about this run
LOG_LINES: tuple[tuple[str, str], ...] = (
    ("lightning.fabric.utilities.seed", r"Seed set to \d+$"),  # the seed is in config.yaml
    ("lightning.pytorch.utilities.rank_zero", r"💡 Tip: "),  # advertisements for Lightning's cloud
    ("lightning.pytorch.utilities.rank_zero", r"(TPU|HPU) available: False"),
    ("lightning.pytorch.utilities.rank_zero", r"GPU available: False, used: False$"),  # a GPU is reported
    # the bookkeeping of a cosine schedule sizing itself, and the end of a fit: regae's own lines say both
    ("lightning.pytorch.utilities.rank_zero", r"Loading `train_dataloader` to estimate number of stepping batches"),
    ("lightning.pytorch.utilities.rank_zero", r"`Trainer.fit` stopped: `max_(steps|epochs)="),
)


def ignore_warnings() -> None:
    """Add :data:`WARNINGS` to the current warning filters (inside ``catch_warnings`` to undo)."""
    for noise in WARNINGS:
        warnings.filterwarnings("ignore", message=noise.message, category=noise.category, module=noise.module)


class _DropLines(logging.Filter):
    def __init__(self, patterns: list[str]) -> None:
        super().__init__()
        self.pattern = re.compile("|".join(f"(?:{p})" for p in patterns))

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.match(record.getMessage())


@contextlib.contextmanager
def third_party_noise() -> Iterator[None]:
    """Within this block, the known third-party warnings and info lines are not shown."""
    by_logger: dict[str, list[str]] = {}
    for name, pattern in LOG_LINES:
        by_logger.setdefault(name, []).append(pattern)
    filters = [(logging.getLogger(name), _DropLines(patterns)) for name, patterns in by_logger.items()]
    with warnings.catch_warnings():
        ignore_warnings()
        for logger, drop in filters:
            logger.addFilter(drop)
        try:
            yield
        finally:
            for logger, drop in filters:
                logger.removeFilter(drop)

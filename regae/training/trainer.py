"""The one place a Lightning ``Trainer`` is built: ``regae fit`` (LightningCLI), ``regae compare``, the
study and cluster jobs all call :func:`make_trainer`, so every run gets the same pieces:

* checkpoints written atomically, NaN/inf weights refused (:class:`~regae.training.checkpoint_io.AtomicCheckpointIO`,
  unless a ``CheckpointIO`` plugin is given);
* in a terminal Lightning's bar with the loss and validation PSNR, otherwise (a log file, a Slurm job,
  ``enable_progress_bar=False``) one line per epoch (:mod:`regae.training.progress`), and one start
  line instead of the model summary table;
* on a one-process CPU run, threads for the cores other processes leave free
  (:class:`~regae.training.core_share.CoreShare`);
* no checkpoint callback when ``enable_checkpointing=False`` (instead of Lightning's error that one was given).

A callback of one of these kinds among ``callbacks`` replaces regae's default of that kind.
"""

from __future__ import annotations

import sys
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.callbacks import ProgressBar as BaseProgressBar
from lightning.pytorch.plugins import CheckpointIO

from regae.training.checkpoint_io import AtomicCheckpointIO
from regae.training.core_share import CoreShare
from regae.training.progress import EpochSummary, ProgressBar

#: Trainer arguments whose regae default differs from Lightning's (``regae fit --help`` shows these)
DEFAULTS: dict[str, Any] = {
    "default_root_dir": "runs/default",
    "enable_model_summary": False,  # EpochSummary prints a one-line summary instead
}


def bar_by_default() -> bool:
    """Lightning's bar writes to stdout: in a terminal a bar, in a log one line per epoch."""
    return sys.stdout.isatty()


def default_callbacks(callbacks: list[Callback], progress_bar: bool) -> list[Callback]:
    """``callbacks`` plus regae's defaults of each kind they do not already hold."""
    out = [c for c in callbacks if progress_bar or not isinstance(c, BaseProgressBar)]
    if progress_bar and not any(isinstance(c, BaseProgressBar) for c in out):
        out.append(ProgressBar(refresh_rate=10))
    if not any(isinstance(c, EpochSummary) for c in out):
        out.append(EpochSummary())
    if not any(isinstance(c, CoreShare) for c in out):
        out.append(CoreShare())
    return out


def make_trainer(callbacks: list[Callback] | None = None, plugins: Any = None, **kwargs: Any) -> pl.Trainer:
    """``pl.Trainer(**kwargs)`` with regae's defaults and pieces (module docstring)."""
    kwargs = {**DEFAULTS, **kwargs}
    if kwargs.get("enable_progress_bar") is None:
        kwargs["enable_progress_bar"] = bar_by_default()
    callbacks = default_callbacks(list(callbacks or []), bool(kwargs["enable_progress_bar"]))
    if kwargs.get("enable_checkpointing") is False:  # no checkpoints asked for: drop the callback, not fail
        callbacks = [c for c in callbacks if not isinstance(c, ModelCheckpoint)]
    plugins = list(plugins) if isinstance(plugins, (list, tuple)) else ([plugins] if plugins is not None else [])
    if not any(isinstance(p, CheckpointIO) for p in plugins):  # atomic saves unless the caller chose an IO
        plugins.append(AtomicCheckpointIO())
    return pl.Trainer(callbacks=callbacks, plugins=plugins, **kwargs)

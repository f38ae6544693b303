"""The one place a Lightning ``Trainer`` is built: ``regae fit`` (LightningCLI), ``regae compare``, the
study and cluster jobs all call :func:`make_trainer`, so every run gets the same pieces:

* checkpoints written atomically, NaN/inf weights refused (:class:`~regae.training.checkpoint_io.AtomicCheckpointIO`,
  unless a ``CheckpointIO`` plugin is given);
* in a terminal Lightning's bar with the loss and validation PSNR, otherwise (a log file, a Slurm job,
  ``enable_progress_bar=False``) one line per epoch (:mod:`regae.training.progress`), and one start
  line instead of the model summary table;
* on a one-process CPU run, threads for the cores other processes leave free
  (:class:`~regae.training.core_share.CoreShare`);
* no checkpoint callback when ``enable_checkpointing=False`` (instead of Lightning's error that one was given);
* Ctrl-C finishes the step, saves it and stops (:class:`~regae.training.interrupt.SaveOnInterrupt`);
* no CPU run of more processes than the machine has cores (``--trainer.devices 64`` on a laptop starts 64
  processes of ~0.5 GB each before anything else can say no): a :class:`ConfigError`, unless
  ``REGAE_ALLOW_CPU_OVERSUBSCRIPTION=1`` (Slurm jobs are sized by Slurm and not checked).

A callback of one of these kinds among ``callbacks`` replaces regae's default of that kind.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.callbacks import ProgressBar as BaseProgressBar
from lightning.pytorch.plugins import CheckpointIO

from regae.errors import ConfigError
from regae.training.checkpoint_io import AtomicCheckpointIO
from regae.training.core_share import CoreShare
from regae.training.interrupt import SaveOnInterrupt
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
    if not any(isinstance(c, SaveOnInterrupt) for c in out):
        out.append(SaveOnInterrupt())
    return out


def check_cpu_processes(kwargs: dict[str, Any]) -> None:
    """Refuse a local CPU run of more processes than cores (module docstring)."""
    if os.environ.get("REGAE_ALLOW_CPU_OVERSUBSCRIPTION") == "1" or "SLURM_JOB_ID" in os.environ:
        return
    accelerator, devices = str(kwargs.get("accelerator", "auto")), kwargs.get("devices", "auto")
    if accelerator not in ("cpu", "auto") or (accelerator == "auto" and torch.cuda.is_available()):
        return
    if not isinstance(devices, int) and not (isinstance(devices, str) and devices.isdigit()):
        return  # "auto", a list of ids: Lightning's own checks
    processes, cores = int(devices) * int(kwargs.get("num_nodes", 1) or 1), os.cpu_count() or 1
    if processes > cores:
        raise ConfigError(f"--trainer.devices {devices} starts {processes} training processes on this CPU's {cores} "
                          f"cores (about 0.5 GB each); use --trainer.devices {cores} or fewer, or set "
                          "REGAE_ALLOW_CPU_OVERSUBSCRIPTION=1 to do it anyway")


def make_trainer(callbacks: list[Callback] | None = None, plugins: Any = None, **kwargs: Any) -> pl.Trainer:
    """``pl.Trainer(**kwargs)`` with regae's defaults and pieces (module docstring)."""
    kwargs = {**DEFAULTS, **kwargs}
    check_cpu_processes(kwargs)
    if kwargs.get("enable_progress_bar") is None:
        kwargs["enable_progress_bar"] = bar_by_default()
    callbacks = default_callbacks(list(callbacks or []), bool(kwargs["enable_progress_bar"]))
    if kwargs.get("enable_checkpointing") is False:  # no checkpoints asked for: drop the callback, not fail
        callbacks = [c for c in callbacks if not isinstance(c, ModelCheckpoint)]
    plugins = list(plugins) if isinstance(plugins, (list, tuple)) else ([plugins] if plugins is not None else [])
    if not any(isinstance(p, CheckpointIO) for p in plugins):  # atomic saves unless the caller chose an IO
        plugins.append(AtomicCheckpointIO())
    return pl.Trainer(callbacks=callbacks, plugins=plugins, **kwargs)

"""The thread count of a CPU training run follows the cores that other processes leave free.

Torch runs each op on one thread per core. When another process keeps cores busy, those
threads wait on each other at every op, and a step slows down far more than the lost core
explains (benchmarks/README.md: the U-Net step beside one busy 2-thread neighbour took 2.5x its
idle time with two threads and 1.5-1.65x with one). :class:`CoreShare` measures, every
``every`` seconds of training, how many cores other processes used since the last look, and
sets::

    others  = n · Δbusy / Δtotal − Δcpu_self / Δwall     (cores; /proc/stat over this process's CPUs)
    threads = clamp(round(n − others), 1, threads at the start)

with ``n`` the cores this process may run on. Nothing sleeps: the window is the training
since the last look, and reading ``/proc/stat`` takes tens of microseconds. When the
neighbour leaves, the next look gives the cores back. At the end of the run the starting
thread count is restored. The changes are kept in :attr:`CoreShare.changes` and the run's log
states them once per epoch (:class:`regae.training.progress.EpochSummary`), not one line each.

It acts only where the thread count is regae's to choose:

* one process on the CPU: under DDP Lightning gives each of the ``n`` processes ``cores // n``
  threads (and a Slurm job gets ``SLURM_CPUS_PER_TASK``, exported as ``OMP_NUM_THREADS``);
* ``OMP_NUM_THREADS`` unset: a user's own count is kept;
* ``torch.use_deterministic_algorithms`` off (``--trainer.deterministic true``): a parallel
  reduction sums in an order that depends on the thread count, so a run that must repeat bit
  for bit keeps one count;
* Linux (``/proc/stat``); elsewhere it does nothing.

The thread count changes the timing, and the last bits of sums split across threads; never
anything else.
"""

from __future__ import annotations

import os
import time
from typing import Any, NamedTuple

import lightning.pytorch as pl
import torch
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.callbacks import Callback

from regae.threads.count import fair_threads, get_threads, set_threads
from regae.threads.cpu_use import Sample, count, cpus, others_between, sample


class Change(NamedTuple):
    """One change of the thread count."""

    step: int  # the global step it applies from
    others: float  # cores' worth of CPU other processes used in the window before it
    threads: int  # the count from then on


class CoreShare(Callback):
    """Set the thread count of a one-process CPU run to the cores other processes leave free (module docstring)."""

    def __init__(self, every: float = 1.0, first: float = 0.05) -> None:
        self.every, self.first = every, first  # seconds between looks; before the first (at a batch start)
        self.active = False
        self.start_threads = 0
        self.changes: list[Change] = []
        self._cpus: set[int] | None = None
        self._n = 0
        self._last: Sample | None = None
        self._wait = first

    def applies(self, trainer: pl.Trainer) -> bool:
        """Whether the thread count is regae's to choose in this run (module docstring)."""
        return (isinstance(trainer.accelerator, CPUAccelerator) and trainer.world_size == 1
                and "OMP_NUM_THREADS" not in os.environ and not torch.are_deterministic_algorithms_enabled())

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.start_threads = get_threads()
        self.changes = []
        self._cpus = cpus()
        self._n = count(self._cpus)
        self._last = sample(self._cpus) if stage == "fit" and self.applies(trainer) else None
        self.active, self._wait = self._last is not None, self.first  # the first window: the set-up since setup()

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if not self.active or time.monotonic() - self._last.wall < self._wait:
            return
        now = sample(self._cpus)
        others = others_between(self._last, now, self._n) if now is not None else None
        if others is None:
            return
        self._last, self._wait = now, self.every
        threads = fair_threads(others, self._n, self.start_threads)
        if threads != get_threads():
            set_threads(threads)
            self.changes.append(Change(trainer.global_step, round(others, 2), threads))

    @property
    def cores(self) -> int:
        """The CPUs this process may run on (known after ``setup``)."""
        return self._n

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._restore()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._restore()  # an interrupted or failed fit gets no teardown call

    def _restore(self) -> None:
        if self.active:
            set_threads(self.start_threads)
        self.active = False

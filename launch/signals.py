"""Slurm's stop signals, acted on at a step boundary: every rank saves ``last.ckpt`` at that step.

Slurm tells a running job to stop in two ways:

* ``USR2`` (submitit's requeue signal, ``#SBATCH --signal=USR2@DELAY``): the time limit is
  ``DELAY`` seconds away (Slurm checks limits every 30 s, so it may come up to 30 s earlier).
  Every rank saves, submitit requeues the job (``scontrol requeue``) and the ranks exit; the
  next attempt resumes from that step.
* ``SIGTERM``: Slurm is ending the job (``scontrol requeue``, a preemption, ``scancel``, the
  hard time limit) and sends ``SIGKILL`` after the cluster's ``KillWait`` or ``GraceTime``; or
  submitit's own preemption sequence starts (SIGTERM, then USR2). Every rank saves, then waits
  (``term_wait_s``) for the end: the kill (Slurm requeues the job, or ``python -m launch resume``
  does later), or USR2 (submitit requeues). Steps trained in that window would be lost with
  the process, so none are. If neither comes, training goes on.

A signal handler here only sets a flag: the ranks of a DDP job receive the signal at different
moments, in the middle of a step, and a checkpoint needs every rank. At the end of every
training batch the ranks agree (one all-reduce of the flag, max), so all of them save the same
step. Lightning's own SIGTERM handler is replaced for the same reason (it broadcasts from inside
the handler, and ends training as if it had finished: Lightning issue #14610).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback

#: what each flag value means; the ranks agree on the largest one raised on any rank
NONE, TERM, REQUEUE = 0, 1, 2
SIGNALS = {signal.SIGTERM: TERM, signal.SIGUSR2: REQUEUE}


class JobStopped(SystemExit):
    """Training stopped on the requeue signal after saving ``step``.

    A ``SystemExit`` (exit status 128 + signal number), so that submitit writes no result for
    this attempt: the job is not over, it is requeued.
    """

    def __init__(self, signum: int, step: int) -> None:
        super().__init__(128 + signum)
        self.signum, self.step = signum, step

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


class StopOnSignal(Callback):
    """Checkpoint to ``ckpt_path`` at the step where a stop signal arrived; on USR2 requeue and exit.

    On USR2, rank 0 then calls the USR2 handler that was in place before (submitit's: it calls
    ``TrainJob.checkpoint`` and ``scontrol requeue``). The flag handlers are installed when
    training starts; before and after that, the handlers from before Lightning's (submitit's)
    are in place: a signal during start-up is handled by submitit alone (nothing trained in this
    attempt yet, so nothing is lost).
    """

    def __init__(self, ckpt_path: str | Path, term_wait_s: float = 60.0) -> None:
        self.ckpt_path = Path(ckpt_path)
        self.term_wait_s = term_wait_s
        self.received = NONE
        self.saved: list[tuple[str, int]] = []  # (signal, step) of each save on a signal
        self._outer: dict[int, Any] = {}

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.received = max(self.received, SIGNALS[signum])

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit":  # the handlers from before Lightning's (submitit's in a job)
            self._outer = {signum: signal.getsignal(signum) for signum in SIGNALS}

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for signum in SIGNALS:
            signal.signal(signum, self._on_signal)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._restore()

    def _restore(self) -> None:
        for signum, handler in self._outer.items():
            if handler is not None:
                signal.signal(signum, handler)

    def agreed(self, trainer: pl.Trainer) -> int:
        """The largest flag raised on any rank (an all-reduce; every rank calls this every step)."""
        flag = torch.tensor([self.received], dtype=torch.int32, device=trainer.strategy.root_device)
        if torch.distributed.is_available() and torch.distributed.is_initialized() and trainer.world_size > 1:
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return int(flag.item())

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        flag = self.agreed(trainer)
        if flag == NONE:
            return
        step = trainer.global_step
        self._save(trainer, signal.SIGUSR2 if flag == REQUEUE else signal.SIGTERM, step)
        if flag == TERM:
            deadline = time.monotonic() + self.term_wait_s
            while self.received != REQUEUE and time.monotonic() < deadline:
                time.sleep(0.05)  # handlers run in between; SIGKILL ends it here
            if self.received != REQUEUE:
                self.received = NONE
                print(f"[launch] rank {trainer.global_rank}: no kill and no USR2 within {self.term_wait_s:.0f} s "
                      "of SIGTERM: training on", flush=True)
                return
        self._requeue(trainer, step)

    def _save(self, trainer: pl.Trainer, signum: signal.Signals, step: int) -> None:
        trainer.save_checkpoint(self.ckpt_path)  # every rank; rank 0 writes (atomically), then a barrier
        self.saved.append((signum.name, step))
        print(f"[launch] rank {trainer.global_rank}: {signum.name} at step {step}: saved {self.ckpt_path}",
              flush=True)

    def _requeue(self, trainer: pl.Trainer, step: int) -> None:
        requeue = self._outer.get(signal.SIGUSR2)
        if trainer.is_global_zero and callable(requeue):
            try:
                requeue(signal.SIGUSR2, None)  # submitit: checkpoint() + scontrol requeue, then sys.exit
            except SystemExit:
                pass
        raise JobStopped(signal.SIGUSR2, step)

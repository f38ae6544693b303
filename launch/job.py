"""The submitted callable: one ``regae fit`` of one run directory, requeued and resumed.

``TrainJob()(run_dir)`` trains from ``<run_dir>/config.yaml`` through the same entry point as a
local ``regae fit`` (``regae.cli.run_trainer_cli``). Every task of the job is one Lightning
process (``tasks_per_node == devices``); under Slurm ranks come from Lightning's
``SLURMEnvironment``, under submitit's local executor from the task's ``LOCAL_RANK``.

Requeue and resume: on Slurm's time-limit signal (USR2) or a SIGTERM (requeue, preemption,
cancel) every rank saves ``<run_dir>/checkpoints/last.ckpt`` at the same step
(:mod:`launch.signals`); on USR2 submitit then calls ``checkpoint()``, which resubmits the same
call. Every attempt finds that ``last.ckpt`` (or the one the ``--checkpoint.*`` cadence wrote
last, after a crash) and passes it as ``--ckpt_path``, so Lightning restores weights, optimizer
state, global step and loader position: a signalled attempt loses no step, a crashed one the
steps after its last checkpoint.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
import zlib
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import submitit
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.environments import SLURMEnvironment

from launch.records import read_status_file
from launch.signals import JobStopped, StopOnSignal
from regae.checkpoints.write import atomic_write_json
from regae.errors import OutputError
from regae.threads.count import set_threads
from regae.training.lightning_cli import run_trainer_cli

STATUS_FILE = "status.json"  # rank 0's last record: state, step, metrics
ATTEMPTS_FILE = "attempts.jsonl"  # one line per (re)start: job id, step it started from


def last_checkpoint(run_dir: Path) -> Path | None:
    path = Path(run_dir) / "checkpoints" / "last.ckpt"
    return path if path.is_file() else None


def checkpoint_step(path: Path) -> int | None:
    """The global step a checkpoint holds, read without loading its tensors (memory-mapped)."""
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["global_step"])
    except Exception:  # unreadable or foreign: the table shows '-'
        return None


def load_status(run_dir: Path) -> dict[str, Any]:
    """The run's ``status.json``, checked (``{}`` if none yet); ``OutputError`` naming the file if it
    is not one (:func:`launch.records.check_status`)."""
    return read_status_file(Path(run_dir) / STATUS_FILE)


def read_status(run_dir: Path) -> dict[str, Any]:
    """:func:`load_status`, or ``{}`` where the file is unreadable (the job rewrites it whole)."""
    try:
        return load_status(run_dir)
    except OutputError:
        return {}


def read_attempts(run_dir: Path) -> list[dict[str, Any]]:
    """One record per (re)start; a line that is not a JSON object (a write cut by a kill) is skipped."""
    path = Path(run_dir) / ATTEMPTS_FILE
    if not path.is_file():  # missing, or something that is no file of ours (a FIFO would block)
        return []
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    attempts = []
    for line in lines:
        try:
            item = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(item, dict):
            attempts.append(item)
    return attempts


def _job_id() -> str:
    """The id submitit gives this job (``12_3`` for array task 3 of job 12)."""
    if _in_submitit_job():
        return str(submitit.JobEnvironment().job_id)
    return os.environ.get("SLURM_JOB_ID") or str(os.getpid())


class RunRecorder(Callback):
    """Each rank prints where it runs; rank 0 records attempts, metrics and the final state."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        print(f"[launch] rank {trainer.global_rank}/{trainer.world_size} node {trainer.node_rank} "
              f"local {trainer.local_rank} job {_job_id()} start_step {trainer.global_step} "
              f"host {os.environ.get('SLURMD_NODENAME', '-')} master {os.environ.get('MASTER_ADDR', '-')} "
              f"threads {torch.get_num_threads()} omp_wait_policy {os.environ.get('OMP_WAIT_POLICY', '-')} "
              f"pid {os.getpid()}",
              flush=True)
        if trainer.is_global_zero:
            with open(self.run_dir / ATTEMPTS_FILE, "a") as f:
                f.write(json.dumps({
                    "job_id": _job_id(), "restart": int(os.environ.get("SLURM_RESTART_COUNT", 0)),
                    "start_step": trainer.global_step, "world_size": trainer.world_size,
                    "nodes": os.environ.get("SLURM_JOB_NODELIST", ""), "pid": os.getpid(), "time": time.time(),
                }) + "\n")
            self.record(trainer, "running")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.record(trainer, "running")

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.record(trainer, "trained")

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.record(trainer, "tested")

    def record(self, trainer: pl.Trainer, state: str) -> None:
        if not trainer.is_global_zero:
            return
        metrics = dict(read_status(self.run_dir).get("metrics", {}))
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1})
        atomic_write_json({"state": state, "global_step": trainer.global_step, "epoch": trainer.current_epoch,
                           "metrics": metrics, "time": time.time()}, self.run_dir / STATUS_FILE)


def _local_rank_env(env: submitit.JobEnvironment) -> None:
    """Give Lightning the ranks of submitit's local executor tasks (no Slurm variables there)."""
    port = 20000 + zlib.crc32(str(env.job_id).encode()) % 20000
    os.environ.update({
        "LOCAL_RANK": str(env.local_rank), "NODE_RANK": str(env.node), "WORLD_SIZE": str(env.num_tasks),
        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": os.environ.get("MASTER_PORT", str(port)),
    })


class TrainJob(submitit.helpers.Checkpointable):
    """``TrainJob()(run_dir)``: train ``run_dir/config.yaml``, resuming from its ``last.ckpt``."""

    def __call__(self, run_dir: str) -> dict[str, Any]:
        run = Path(run_dir)
        argv = ["fit", "--config", str(run / "config.yaml")]
        ckpt = last_checkpoint(run)
        if ckpt is not None:
            argv += ["--ckpt_path", str(ckpt)]
            print(f"[launch] resuming {run} from {ckpt}", flush=True)
        in_submitit = _in_submitit_job()
        cpus = int(os.environ.get("SLURM_CPUS_PER_TASK", 0))
        if cpus:  # without cgroups torch would use every core of the node in every task
            set_threads(cpus)
        callbacks: list[Callback] = [RunRecorder(run)]  # a Slurm log gets one line per epoch (make_trainer)
        if in_submitit:
            callbacks.append(StopOnSignal(run / "checkpoints" / "last.ckpt"))
        plugins: list[Any] = []
        if "SLURM_JOB_ID" in os.environ and "SLURM_NTASKS" in os.environ:
            plugins.append(SLURMEnvironment(auto_requeue=False))  # submitit owns requeue
        elif in_submitit and submitit.JobEnvironment().num_tasks > 1:
            _local_rank_env(submitit.JobEnvironment())
        try:
            with warnings.catch_warnings():  # sys.argv is submitit's, the args are ours on purpose
                warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter.*")
                run_trainer_cli(argv, extra_callbacks=callbacks, extra_plugins=plugins)
        except JobStopped as stop:  # saved at stop.step, requeued: the next attempt resumes there
            if _is_global_zero():
                atomic_write_json({**read_status(run), "state": "requeued", "global_step": stop.step,
                                   "error": f"{stop.name} at step {stop.step}"}, run / STATUS_FILE)
            raise
        except BaseException as exc:
            if _is_global_zero():
                status = read_status(run)
                state = "interrupted" if isinstance(exc, (SystemExit, KeyboardInterrupt)) else "failed"
                atomic_write_json({**status, "state": state, "error": f"{type(exc).__name__}: {exc}"[:500]},
                                  run / STATUS_FILE)
            raise
        status = read_status(run)
        if _is_global_zero() and status:
            status["state"] = "completed"
            atomic_write_json(status, run / STATUS_FILE)
        return {**status, "checkpoint": str(last_checkpoint(run) or "")}

    def checkpoint(self, run_dir: str) -> submitit.helpers.DelayedSubmission:
        """Called by submitit on timeout/preemption: requeue the same run (it resumes itself)."""
        print(f"[launch] requeue requested; {run_dir} will resume from "
              f"{last_checkpoint(Path(run_dir)) or 'the start (no checkpoint yet)'}", file=sys.stderr, flush=True)
        return submitit.helpers.DelayedSubmission(self, run_dir)


def _in_submitit_job() -> bool:
    try:
        submitit.JobEnvironment()
    except RuntimeError:
        return False
    return True


def _is_global_zero() -> bool:
    if _in_submitit_job():
        return submitit.JobEnvironment().global_rank == 0
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", 0))) == 0

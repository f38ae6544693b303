"""The submitted callable: one ``regae fit`` of one run directory, requeued and resumed.

``TrainJob()(run_dir)`` trains from ``<run_dir>/config.yaml`` through the same entry point as a
local ``regae fit`` (``regae.cli.run_trainer_cli``). Every task of the job is one Lightning
process (``tasks_per_node == devices``); under Slurm ranks come from Lightning's
``SLURMEnvironment``, under submitit's local executor from the task's ``LOCAL_RANK``.

Requeue and resume: on a timeout or preemption signal submitit calls ``checkpoint()``, which
resubmits the same call; the new attempt finds ``<run_dir>/checkpoints/last.ckpt`` (written by
the ``--checkpoint.*`` cadence) and passes it as ``--ckpt_path``, so Lightning restores weights,
optimizer state, global step and loader position. Only the steps after that checkpoint are
trained twice.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import warnings
import zlib
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import submitit
import torch
from lightning.pytorch.callbacks import Callback, TQDMProgressBar
from lightning.pytorch.plugins.environments import SLURMEnvironment

from regae.cli import run_trainer_cli

STATUS_FILE = "status.json"  # rank 0's last record: state, step, metrics
ATTEMPTS_FILE = "attempts.jsonl"  # one line per (re)start: job id, step it started from


def last_checkpoint(run_dir: Path) -> Path | None:
    path = Path(run_dir) / "checkpoints" / "last.ckpt"
    return path if path.is_file() else None


def read_status(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / STATUS_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def read_attempts(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / ATTEMPTS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write_json(path: Path, record: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)


def _job_id() -> str:
    return os.environ.get("SLURM_JOB_ID") or os.environ.get("SUBMITIT_LOCAL_JOB_ID") or str(os.getpid())


class RunRecorder(Callback):
    """Each rank prints its rank; rank 0 records attempts, metrics and the final state.

    It also hands SIGTERM back to submitit once Lightning has installed its own handler:
    Lightning turns SIGTERM into ``SIGTERMException`` (a ``SystemExit``) that ends the job as
    if it had finished, while submitit ignores SIGTERM and requeues on its own signal
    (Lightning issue #14610).
    """

    def __init__(self, run_dir: str | Path, keep_submitit_signals: bool) -> None:
        self.run_dir = Path(run_dir)
        self.keep_submitit_signals = keep_submitit_signals
        self._sigterm: Any = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.keep_submitit_signals:
            self._sigterm = signal.getsignal(signal.SIGTERM)  # submitit's, before Lightning's

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._sigterm is not None:
            signal.signal(signal.SIGTERM, self._sigterm)
        print(f"[launch] rank {trainer.global_rank}/{trainer.world_size} node {trainer.node_rank} "
              f"local {trainer.local_rank} job {_job_id()} start_step {trainer.global_step}", flush=True)
        if trainer.is_global_zero:
            with open(self.run_dir / ATTEMPTS_FILE, "a") as f:
                f.write(json.dumps({
                    "job_id": _job_id(), "restart": int(os.environ.get("SLURM_RESTART_COUNT", 0)),
                    "start_step": trainer.global_step, "world_size": trainer.world_size, "time": time.time(),
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
        _write_json(self.run_dir / STATUS_FILE, {
            "state": state, "global_step": trainer.global_step, "epoch": trainer.current_epoch,
            "metrics": metrics, "time": time.time(),
        })


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
            torch.set_num_threads(cpus)
        extra: dict[str, Any] = {
            "callbacks": [TQDMProgressBar(refresh_rate=50), RunRecorder(run, keep_submitit_signals=in_submitit)],
        }
        if "SLURM_JOB_ID" in os.environ and "SLURM_NTASKS" in os.environ:
            extra["plugins"] = [SLURMEnvironment(auto_requeue=False)]  # submitit owns requeue
        elif in_submitit and submitit.JobEnvironment().num_tasks > 1:
            _local_rank_env(submitit.JobEnvironment())
        try:
            with warnings.catch_warnings():  # sys.argv is submitit's, the args are ours on purpose
                warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter.*")
                run_trainer_cli(argv, trainer_defaults_extra=extra)
        except BaseException as exc:
            if _is_global_zero():
                status = read_status(run)
                state = "interrupted" if isinstance(exc, (SystemExit, KeyboardInterrupt)) else "failed"
                _write_json(run / STATUS_FILE, {**status, "state": state, "error": f"{type(exc).__name__}: {exc}"[:500]})
            raise
        status = read_status(run)
        if _is_global_zero() and status:
            status["state"] = "completed"
            _write_json(run / STATUS_FILE, status)
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

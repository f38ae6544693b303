"""Slurm stops a running job, the job is requeued and finishes as if nothing had happened.

Both through the real ``python -m launch`` path and Slurm's own signals, no submitit
``_interrupt()``: the time limit (``--time 1 --signal-delay 5``: Slurm sends USR2 itself) and a
preemption (``scontrol requeue``: Slurm sends SIGTERM, then SIGKILL after KillWait). The final
weights, Adam moments and every step's loss equal those of the same config trained in one
uninterrupted process: bit for bit, since one CPU thread computes the same thing every time.

Slurm checks time limits every 30 s, so its signal comes at a moment the test cannot choose;
rank 0 is held (SIGSTOP) once it has a checkpoint, so the signal finds it mid-run whatever the
speed of the machine. Slurm sends SIGCONT with the signal, which releases it.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from slurm_helpers import (
    TINY,
    assert_same_weights,
    fit_locally,
    hold_after_checkpoint,
    job_info,
    release_on,
    send,
    signal_saves,
    wait_for,
)

from launch.job import read_attempts, read_status
from launch.options import parse_options
from launch.submit import launch, wait
from regae import read_checkpoint

pytestmark = pytest.mark.slurm

STEPS, EVERY, LOG = 200, 20, 10
RUN = [*TINY, "--trainer.max_steps", str(STEPS), "--trainer.max_epochs", "-1", "--trainer.log_every_n_steps", str(LOG),
       "--trainer.check_val_every_n_epoch", "5", "--checkpoint.every_n_train_steps", str(EVERY)]
_reference: dict[str, dict] = {}


def uninterrupted(run: Path, tmp_path: Path) -> dict:
    """The same config.yaml trained in one process without a stop (computed once per config)."""
    config = (run / "config.yaml").read_text().replace(str(run), "RUN")
    if config not in _reference:
        _reference[config] = fit_locally(run / "config.yaml", tmp_path / "uninterrupted")[0]
    return _reference[config]


def test_time_limit_signal_checkpoints_requeues_and_resumes(slurm_up: str, tmp_path: Path) -> None:
    root = tmp_path / "timelimit"
    submitted = launch(parse_options(["--dir", str(root), "--partition", slurm_up, "--time", "1",
                                      "--signal-delay", "5", "--max-requeue", "4", *RUN]))
    (job,) = submitted.jobs
    run = Path(submitted.runs[0].dir)
    assert "#SBATCH --signal=USR2@5" in (root / "submitit" / f"{job.job_id}_submission.sh").read_text()
    pid = hold_after_checkpoint(run)
    reference = uninterrupted(run, tmp_path)  # computed while Slurm's clock runs
    # 1-minute limit, signal 5 s before it: Slurm sends USR2 at its first check after 25 s
    release_on(pid, signal.SIGUSR2, timeout=120)
    assert wait([job], settle_s=60) == 0

    saves = signal_saves(job.stdout() or "", "SIGUSR2")  # one save per time limit reached
    attempts = read_attempts(run)
    assert saves and all(0 < s < STEPS for s in saves), saves
    # every attempt after the first started at the step saved on the signal before it
    assert [a["start_step"] for a in attempts] == [0, *saves]
    assert len({a["job_id"] for a in attempts}) == 1 and [a["restart"] for a in attempts] == list(range(len(saves) + 1))
    info = job_info(job.job_id)
    assert (info["JobState"], int(info["Restarts"])) == ("COMPLETED", len(saves))
    assert read_status(run)["state"] == "completed"
    final = read_checkpoint(run / "checkpoints" / "last.ckpt")
    assert [s for s, _ in final["regae"]["loss_history"]] == list(range(0, STEPS, LOG))  # each logged step once
    assert_same_weights(final, reference)


def test_preemption_by_scontrol_requeue_resumes_from_the_step_it_saved(slurm_up: str, tmp_path: Path) -> None:
    root = tmp_path / "preempt"
    submitted = launch(parse_options(["--dir", str(root), "--partition", slurm_up, "--time", "10", *RUN]))
    (job,) = submitted.jobs
    run = Path(submitted.runs[0].dir)
    pid = hold_after_checkpoint(run)
    subprocess.run(["scontrol", "requeue", job.job_id], check=True, timeout=30)
    release_on(pid, signal.SIGTERM, timeout=30)
    # it saves at the next step and waits; Slurm kills it after KillWait and starts it again
    wait_for(lambda: not send(pid, 0), 60, "the preempted attempt to end")
    reference = uninterrupted(run, tmp_path)
    assert wait([job], settle_s=60) == 0

    (saved,) = signal_saves(job.stdout() or "", "SIGTERM")
    first, second = read_attempts(run)
    assert (first["start_step"], second["start_step"]) == (0, saved) and 0 < saved < STEPS
    assert second["restart"] == 1 and job_info(job.job_id)["Restarts"] == "1"
    assert read_status(run)["state"] == "completed"
    final = read_checkpoint(run / "checkpoints" / "last.ckpt")
    assert [s for s, _ in final["regae"]["loss_history"]] == list(range(0, STEPS, LOG))
    assert_same_weights(final, reference)

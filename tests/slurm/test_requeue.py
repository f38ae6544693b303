"""Slurm stops a running job, the job is requeued and finishes as if nothing had happened.

Both through the real ``python -m launch`` path and Slurm's own signals, no submitit
``_interrupt()``: the time limit (``--time 1 --signal-delay 5``: Slurm sends USR2 itself) and a
preemption (``scontrol requeue``: Slurm sends SIGTERM, then SIGKILL after KillWait) of a job of
two DDP ranks. The final weights, Adam moments and every logged loss equal those of the same
config.yaml trained without a stop on this machine: bit for bit, since each rank computes with
one CPU thread and two ranks' gradients sum the same in any order.

Slurm checks time limits every 30 s, so its signal comes at a moment the test cannot choose;
rank 0 is held (SIGSTOP) once it has a checkpoint, so the signal finds it mid-run whatever the
speed of the machine. Slurm sends SIGCONT with its signals, which releases it.
"""

from __future__ import annotations

import json
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
import yaml

import regae
from launch.job import read_attempts, read_status
from launch.options import parse_options
from launch.submit import launch, wait
from tests.support.slurm import (
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

pytestmark = pytest.mark.slurm

STEPS, EVERY, LOG = 200, 20, 10
RUN = [*TINY, "--trainer.max_steps", str(STEPS), "--trainer.max_epochs", "-1", "--trainer.log_every_n_steps", str(LOG),
       "--trainer.check_val_every_n_epoch", "5", "--checkpoint.every_n_train_steps", str(EVERY)]
_uninterrupted: dict[str, dict] = {}


def uninterrupted(run: Path, tmp_path: Path) -> dict:
    """The run's config.yaml trained here without a stop, with as many DDP ranks (once per config)."""
    config = (run / "config.yaml").read_text().replace(str(run), "RUN")
    if config not in _uninterrupted:
        _uninterrupted[config] = fit_locally(run / "config.yaml", tmp_path / "uninterrupted")[0]
    return _uninterrupted[config]


def test_time_limit_signal_checkpoints_requeues_and_resumes(slurm_up: str, tmp_path: Path, capsys) -> None:
    root = tmp_path / "timelimit"
    submitted = launch(parse_options(["--dir", str(root), "--partition", slurm_up, "--time", "1",
                                      "--signal-delay", "5", "--max-requeue", "4", "--sbatch", "comment=regae-test",
                                      *RUN]))
    (job,) = submitted.jobs
    run = Path(submitted.runs[0].dir)
    out = capsys.readouterr().out
    assert f"launch folder: {root}" in out and f"status: python -m launch status {root}" in out
    script = (root / "submitit" / f"{job.job_id}_submission.sh").read_text()
    for line in ("--signal=USR2@5", "--time=1", f"--partition={slurm_up}", "--ntasks-per-node=1", "--comment=regae-test"):
        assert f"#SBATCH {line}\n" in script, line
    record = json.loads((root / "launch.json").read_text())
    assert record["options"]["fit_argv"] == RUN and record["runs"][0]["jobs"] == [job.job_id]

    pid = hold_after_checkpoint(run)
    with ThreadPoolExecutor(1) as pool:
        reference = pool.submit(uninterrupted, run, tmp_path)  # trains while Slurm's clock runs
        # 1-minute limit, signal 5 s before it: Slurm sends USR2 at its first check after 25 s
        release_on(pid, signal.SIGUSR2, timeout=120)
        assert wait([job], settle_s=60) == 0
        reference = reference.result()

    saves = signal_saves(job.stdout() or "", "SIGUSR2")  # one save per time limit reached
    attempts = read_attempts(run)
    assert saves and all(0 < s < STEPS for s in saves), saves
    # every attempt after the first started at the step saved on the signal before it
    assert [a["start_step"] for a in attempts] == [0, *saves]
    assert {a["job_id"] for a in attempts} == {job.job_id}
    assert [a["restart"] for a in attempts] == list(range(len(saves) + 1))
    info = job_info(job.job_id)
    assert (info["JobState"], int(info["Restarts"])) == ("COMPLETED", len(saves))
    assert read_status(run)["state"] == "completed"
    final = regae.read_checkpoint(run / "checkpoints" / "last.ckpt")
    assert [s for s, _ in final["regae"]["loss_history"]] == list(range(0, STEPS, LOG))  # each logged step once
    assert_same_weights(final, reference)


def test_preemption_of_two_ranks_resumes_from_the_step_both_saved(slurm_up: str, tmp_path: Path) -> None:
    root = tmp_path / "preempt"
    submitted = launch(parse_options(["--dir", str(root), "--partition", slurm_up, "--tasks-per-node", "2",
                                      "--time", "10", *RUN]))
    (job,) = submitted.jobs
    run = Path(submitted.runs[0].dir)
    assert run == root / "runs" / "00"
    trainer = yaml.safe_load((run / "config.yaml").read_text())["trainer"]
    assert {k: trainer[k] for k in ("accelerator", "devices", "num_nodes", "strategy", "default_root_dir")} == {
        "accelerator": "cpu", "devices": 2, "num_nodes": 1, "strategy": "ddp", "default_root_dir": str(run)}
    pid = hold_after_checkpoint(run)  # rank 0 held: rank 1 waits for it in the next all-reduce
    subprocess.run(["scontrol", "requeue", job.job_id], check=True, timeout=30)
    release_on(pid, signal.SIGTERM, timeout=30)
    # both ranks save at the next step and wait; Slurm kills them after KillWait and starts the job again
    wait_for(lambda: not send(pid, 0), 60, "the preempted attempt to end")
    with ThreadPoolExecutor(1) as pool:
        reference = pool.submit(uninterrupted, run, tmp_path)  # trains while the job runs again
        assert wait([job], settle_s=60) == 0
        reference = reference.result()

    logs = [job.task(i).stdout() or "" for i in range(2)]
    for rank in (0, 1):  # one Lightning process per Slurm task, each in its own log
        assert f"[launch] rank {rank}/2 node 0 local {rank} job {job.job_id} start_step 0 " in logs[rank]
    (saved,) = signal_saves(logs[0], "SIGTERM")
    assert f"[launch] rank 1: SIGTERM at step {saved}: saved" in logs[1]  # the same step on both ranks
    first, second = read_attempts(run)
    assert (first["start_step"], second["start_step"], second["world_size"]) == (0, saved, 2) and 0 < saved < STEPS
    assert second["restart"] == 1 and job_info(job.job_id)["Restarts"] == "1"
    assert f"resuming {run} from {run / 'checkpoints' / 'last.ckpt'}" in logs[0]
    status = read_status(run)
    assert status["state"] == "completed" and 0 < status["metrics"]["test/psnr"] < 60
    final = regae.read_checkpoint(run / "checkpoints" / "last.ckpt")
    # 256 images in batches of 32 over 2 ranks: 4 steps per epoch (one process: 8); the epoch
    # that max_steps ends is not counted as completed
    assert final["loops"]["fit_loop"]["epoch_progress"]["current"]["completed"] == STEPS // 4 - 1
    assert [s for s, _ in final["regae"]["loss_history"]] == list(range(0, STEPS, LOG))
    assert_same_weights(final, reference)
    assert regae.load(run / "checkpoints" / "last.ckpt")(torch.rand(3, 1, 28, 28)).x_hat.shape == (3, 1, 28, 28)

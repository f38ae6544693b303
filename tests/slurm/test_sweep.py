"""A 4-point sweep as one job array, two at a time on the two nodes, one run preempted mid-way:
the status table shows every run's Slurm state, attempts, steps and last metrics."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

import regae
from launch.__main__ import main as launch_main
from launch.job import last_checkpoint, read_attempts
from launch.options import parse_options
from launch.status import rows
from launch.submit import launch, wait
from regae import read_checkpoint
from tests.support.slurm import TINY, hold_after_checkpoint, release_on, signal_saves, wait_for

pytestmark = pytest.mark.slurm

WEIGHTS = (1e-5, 1e-4, 1e-3, 1e-2)
STEPS = 400  # about 2 s a run: time to hold run 01 after its first checkpoint (40 steps took 0.15 s)


def running_tasks(array: str) -> dict[str, str]:
    """Array task id -> node, for the tasks of ``array`` that are running now."""
    out = subprocess.run(["squeue", "-h", "-r", "-t", "R", "-j", array, "-o", "%i %N"], capture_output=True, text=True,
                         timeout=30)
    return dict(line.split() for line in out.stdout.splitlines() if len(line.split()) == 2)


def test_sweep_of_four_runs_two_at_a_time_on_two_nodes(slurm_up: str, tmp_path: Path, capsys) -> None:
    root = tmp_path / "sweep"
    submitted = launch(parse_options([
        "--dir", str(root), "--partition", slurm_up, "--time", "10", "--max-parallel", "2", "--sbatch", "exclusive=",
        *TINY, "--trainer.max_steps", str(STEPS), "--trainer.max_epochs", "-1", "--checkpoint.every_n_train_steps", "10",
        "--trainer.check_val_every_n_epoch", "10",
        "--model.regularizers", "[{name: l1, weight: 0.1}]",
        "--sweep", "model.regularizers.0.weight=" + ",".join(map(str, WEIGHTS)),
    ]))
    ids = [job.job_id for job in submitted.jobs]
    array = ids[0].split("_")[0]
    assert ids == [f"{array}_{i}" for i in range(4)]  # one array, four tasks
    script = (root / "submitit" / f"{array}_submission.sh").read_text()
    assert "#SBATCH --array=0-3%2" in script and "#SBATCH --exclusive" in script

    # while the array runs there is nothing to resume
    capsys.readouterr()
    assert launch_main(["resume", str(root)]) == 2
    (err,) = capsys.readouterr().err.splitlines()
    assert err.startswith(f"launch: error: nothing to resume in {root}: ") and "still queued or running" in err

    # preempt run 01 once it has a checkpoint: held, requeued by Slurm, released by Slurm's SIGTERM
    run1 = Path(submitted.runs[1].dir)
    pid = hold_after_checkpoint(run1)
    held_at = read_checkpoint(last_checkpoint(run1))["global_step"]
    assert held_at < STEPS, f"run 01 was held only after its last step ({held_at}): nothing left to preempt"
    both = wait_for(lambda: len(running_tasks(array)) == 2 and running_tasks(array), 120, "two tasks running")
    assert sorted(both.values()) == ["regae-n1", "regae-n2"]  # exclusive: one run per node
    subprocess.run(["scontrol", "requeue", ids[1]], check=True, timeout=30)
    release_on(pid, signal.SIGTERM, timeout=30)
    most, deadline = 0, time.time() + 300
    while not all(job.done() for job in submitted.jobs):  # never more than --max-parallel at once
        assert time.time() < deadline, "the sweep did not end within 300 s"
        most = max(most, len(running_tasks(array)))
        time.sleep(0.5)
    assert most == 2
    assert wait(submitted.jobs) == 0

    log1 = submitted.jobs[1].stdout() or ""
    saves = signal_saves(log1, "SIGTERM")
    assert len(saves) == 1, f"run 01 saved on SIGTERM at steps {saves}; its log:\n{log1[-4000:]}"
    (saved,) = saves
    table = rows(root)
    assert [(r["run"], r["job"], r["state"], r["run_state"], r["step"], r["ckpt_step"], r["attempts"]) for r in table] == [
        (f"{i:02d}-weight={w}", ids[i], "COMPLETED", "completed", STEPS, STEPS, 2 if i == 1 else 1)
        for i, w in enumerate(WEIGHTS)]
    assert all(r["train/loss"] > 0 and r["val/psnr"] > 0 and r["test/psnr"] > 0 for r in table)
    assert [a["start_step"] for a in read_attempts(run1)] == [0, saved]
    assert {a["nodes"] for run in submitted.runs for a in read_attempts(Path(run.dir))} == {"regae-n1", "regae-n2"}
    for run, weight in zip(submitted.runs, WEIGHTS):
        assert regae.load(last_checkpoint(Path(run.dir))).hparams.regularizers == [{"name": "l1", "weight": weight}]

    assert launch_main(["status", str(root)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["run", "job", "state", "run_state", "step", "ckpt_step", "attempts", "train/loss",
                                  "val/psnr", "test/psnr", "checkpoint"]
    assert [line.split()[:7] for line in printed[1:]] == [
        [f"{i:02d}-weight={w}", ids[i], "COMPLETED", "completed", str(STEPS), str(STEPS), "2" if i == 1 else "1"]
        for i, w in enumerate(WEIGHTS)]
    assert (root / "status.txt").read_text().splitlines() == printed

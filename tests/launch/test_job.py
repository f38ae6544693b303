"""The launcher's local executor (no Slurm): same TrainJob, two tasks as two DDP ranks."""

from __future__ import annotations

from pathlib import Path

import pytest

import regae
from launch.job import read_attempts, read_status
from launch.options import parse_options
from launch.submit import launch, wait
from tests.support.slurm import TINY


@pytest.mark.slow
def test_local_executor_runs_two_ranks_without_slurm(tmp_path: Path) -> None:
    opts = parse_options(["--cluster", "local", "--dir", str(tmp_path / "loc"), "--tasks-per-node", "2", *TINY,
                          "--trainer.max_steps", "8", "--checkpoint.every_n_train_steps", "4"])
    submitted = launch(opts)
    (job,) = submitted.jobs
    assert wait([job]) == 0
    logs = [job.task(i).stdout() or "" for i in range(2)]
    assert "[launch] rank 0/2 node 0 local 0" in logs[0] and "[launch] rank 1/2 node 0 local 1" in logs[1]
    run = Path(submitted.runs[0].dir)
    assert [a["world_size"] for a in read_attempts(run)] == [2]
    assert read_status(run)["state"] == "completed"
    ckpt = regae.read_checkpoint(run / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == 8
    assert ckpt["loops"]["fit_loop"]["epoch_progress"]["current"]["completed"] == 1  # 4 steps/epoch per rank

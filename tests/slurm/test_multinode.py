"""Two nodes x two tasks through ``python -m launch``: one training, and what happens when a node dies.

The cluster (``nox -s slurm``) has two slurmd on this machine, ``regae-n1`` and ``regae-n2``;
DDP runs over gloo on loopback with MASTER_ADDR taken by Lightning from Slurm's node list.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import torch

from launch.__main__ import main as launch_main
from launch.job import checkpoint_step, last_checkpoint, read_attempts, read_status
from launch.options import parse_options
from launch.status import rows
from launch.submit import launch, wait
from regae import read_checkpoint
from tests.support.slurm import (
    TINY,
    fit_locally,
    hold_after_checkpoint,
    job_info,
    local_slurm,
    queued_jobs,
    send,
)

pytestmark = pytest.mark.slurm

STEPS, EVERY = 30, 10
#: 4 ranks x 16 images = the 64-image batch of one process; contractive + L1 are means over the
#: batch, so DDP's mean of the ranks' gradients is the one-process gradient
RUN = [*TINY, "--data.batch_size", "16", "--data.limit_test", "64",
       "--model.regularizers", "[{name: contractive, weight: 1.0, mode: exact}, {name: l1, weight: 1.0e-3}]",
       "--trainer.max_steps", str(STEPS), "--trainer.max_epochs", "-1", "--trainer.log_every_n_steps", "10",
       "--trainer.check_val_every_n_epoch", "5", "--checkpoint.every_n_train_steps", str(EVERY)]
TWO_BY_TWO = ["--nodes", "2", "--tasks-per-node", "2", "--time", "10"]


@pytest.fixture(scope="module")
def two_nodes(slurm_up: str, tmp_path_factory: pytest.TempPathFactory):
    """An uninterrupted 2-node x 2-task run: (launch folder, its job)."""
    root = tmp_path_factory.mktemp("multinode") / "uninterrupted"
    submitted = launch(parse_options(["--dir", str(root), "--partition", slurm_up, *TWO_BY_TWO, *RUN]))
    (job,) = submitted.jobs
    assert wait([job]) == 0
    return root, job


def test_two_nodes_two_tasks_train_like_one_process(two_nodes, tmp_path: Path) -> None:
    root, job = two_nodes
    run = root / "runs" / "00"
    for rank in range(4):  # node rank, local rank, the node it ran on, MASTER_ADDR from the node list
        node = rank // 2
        log = job.task(rank).stdout() or ""
        assert (f"[launch] rank {rank}/4 node {node} local {rank % 2} job {job.job_id} start_step 0 "
                f"host regae-n{node + 1} master regae-n1 threads 1 omp_wait_policy PASSIVE") in log, log[-2000:]
    assert job_info(job.job_id)["NodeList"] == "regae-n[1-2]"
    (attempt,) = read_attempts(run)
    assert (attempt["world_size"], attempt["nodes"]) == (4, "regae-n[1-2]")

    got = read_checkpoint(run / "checkpoints" / "last.ckpt")
    one, psnr = fit_locally(run / "config.yaml", tmp_path / "one", "--trainer.devices", "1", "--trainer.num_nodes", "1",
                            "--trainer.strategy", "auto", "--data.batch_size", "64")
    assert got["global_step"] == one["global_step"] == STEPS
    # the same steps; float sums in another order (gloo's all-reduce), so equal to rounding
    for name, value in one["state_dict"].items():
        assert torch.allclose(got["state_dict"][name], value, rtol=1e-4, atol=1e-6), name
    # the test PSNR rank 0 reports is over all 64 test images (synced), not its own 16
    assert read_status(run)["metrics"]["test/psnr"] == pytest.approx(psnr, abs=1e-3)


def test_lost_node_ends_the_job_and_resume_finishes_it(two_nodes, slurm_up: str, tmp_path: Path, capsys) -> None:
    root = tmp_path / "lost"
    # no-requeue: the job ends when its node does (Slurm would otherwise requeue it, JobRequeue=1)
    submitted = launch(parse_options(["--dir", str(root), "--partition", slurm_up, *TWO_BY_TWO,
                                      "--sbatch", "no-requeue=", *RUN]))
    (job,) = submitted.jobs
    run = Path(submitted.runs[0].dir)
    pid = hold_after_checkpoint(run)  # every rank waits for rank 0 in the next all-reduce
    local_slurm("kill-node", "regae-n2")  # its slurmd, slurmstepd and ranks 2 and 3: SIGKILL
    send(pid, signal.SIGCONT)
    assert wait([job], settle_s=120) == 1
    capsys.readouterr()

    state = job_info(job.job_id)["JobState"]
    assert state in ("NODE_FAIL", "FAILED")
    step = checkpoint_step(last_checkpoint(run))
    assert step is not None and 0 < step < STEPS and step % EVERY == 0
    (row,) = rows(root)
    assert (row["run"], row["job"], row["state"], row["run_state"], row["ckpt_step"]) == (
        "00", job.job_id, state, "failed", step)
    assert launch_main(["status", str(root)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-2:] == [f"00: job {job.job_id} {state}, run failed; last.ckpt holds step {step}",
                            f"resume: python -m launch resume {root}"]

    local_slurm("start-node", "regae-n2")  # the node is repaired
    assert launch_main(["resume", str(root), "--wait"]) == 0
    out = capsys.readouterr().out
    record = json.loads((root / "launch.json").read_text())
    (entry,) = record["runs"]
    first, second = entry["jobs"]
    assert first == job.job_id and second == entry["job_id"] != first
    assert f"resubmitted job {second} (1 run(s), cluster slurm, 2 node(s) x 2 task(s))" in out
    assert [(a["job_id"], a["start_step"], a["world_size"]) for a in read_attempts(run)] == [
        (first, 0, 4), (second, step, 4)]
    assert read_status(run)["state"] == "completed"
    # the uninterrupted 2 x 2 run's weights, to float rounding: 4-rank runs repeat bit for bit and
    # 1-process resumes are bit-exact (test_requeue.py), but the first DDP step after a restart
    # averages the gradients to within a rounding of the uninterrupted run's (measured: weights
    # 1.5e-8 apart after that step, 1e-7 after 60 steps)
    final = read_checkpoint(run / "checkpoints" / "last.ckpt")
    uninterrupted = read_checkpoint(two_nodes[0] / "runs" / "00" / "checkpoints" / "last.ckpt")
    assert final["global_step"] == uninterrupted["global_step"] == STEPS
    steps = [s for s, _ in uninterrupted["regae"]["loss_history"]]
    assert [s for s, _ in final["regae"]["loss_history"]] == steps == list(range(0, STEPS, 10))
    for name, value in uninterrupted["state_dict"].items():
        assert torch.allclose(final["state_dict"][name], value, rtol=1e-5, atol=1e-6), name

    # nothing left to resume, and a folder that is not a launch: one line each, nothing changed
    before, queued = (root / "launch.json").read_bytes(), queued_jobs()
    for folder, message in ((root, f"nothing to resume in {root}: 1 run(s) completed"),
                            (tmp_path, f"no launch.json in {tmp_path}: not a launch folder (python -m launch prints it)")):
        assert launch_main(["resume", str(folder)]) == 2
        assert capsys.readouterr().err.splitlines() == [f"launch: error: {message}"]
    assert (root / "launch.json").read_bytes() == before and queued_jobs() == queued

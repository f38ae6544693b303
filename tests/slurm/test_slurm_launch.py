"""python -m launch against the real single-node Slurm: DDP tasks, sweep arrays, requeue, bad input.

Run with ``nox -s slurm`` (starts and stops the cluster). CPU only: DDP over gloo.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from slurm_helpers import TINY, queued_jobs, wait_for

import regae
from launch.__main__ import main as launch_main
from launch.job import last_checkpoint, read_attempts, read_status
from launch.options import parse_options
from launch.status import rows
from launch.submit import launch, wait

pytestmark = pytest.mark.slurm


def test_two_task_ddp_fit_uses_both_ranks_and_checkpoint_loads(slurm_up: str, tmp_path: Path) -> None:
    root = tmp_path / "ddp"
    opts = parse_options(["--dir", str(root), "--partition", slurm_up, "--tasks-per-node", "2", "--time", "10",
                          *TINY, "--trainer.max_steps", "8", "--checkpoint.every_n_train_steps", "4"])
    submitted = launch(opts)
    (job,) = submitted.jobs
    assert wait([job]) == 0
    # each Slurm task is one Lightning process with its own rank, in its own log
    logs = [job.task(i).stdout() or "" for i in range(2)]
    assert "[launch] rank 0/2 node 0 local 0" in logs[0], logs[0][-2000:]
    assert "[launch] rank 1/2 node 0 local 1" in logs[1], logs[1][-2000:]
    run = Path(submitted.runs[0].dir)
    assert run == root / "runs" / "00"
    (attempt,) = read_attempts(run)
    assert (attempt["world_size"], attempt["start_step"], attempt["job_id"]) == (2, 0, job.job_id)
    ckpt_path = last_checkpoint(run)
    assert ckpt_path == run / "checkpoints" / "last.ckpt"
    ckpt = regae.read_checkpoint(ckpt_path)
    assert ckpt["global_step"] == 8
    # 256 images in batches of 32 split over 2 ranks -> 4 steps per epoch: at step 8 epoch 0 is
    # complete (one process would take 8 steps per epoch and still be in epoch 0)
    assert ckpt["loops"]["fit_loop"]["epoch_progress"]["current"]["completed"] == 1
    model = regae.load(ckpt_path)
    x = torch.rand(3, 1, 28, 28)
    assert model(x).x_hat.shape == (3, 1, 28, 28)
    status = read_status(run)
    assert status["state"] == "completed" and status["global_step"] == 8
    assert 0 < status["metrics"]["test/psnr"] < 60
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["trainer"] | {"default_root_dir": None} == resolved["trainer"] | {
        "accelerator": "cpu", "devices": 2, "num_nodes": 1, "strategy": "ddp", "default_root_dir": None}
    assert resolved["trainer"]["default_root_dir"] == str(run)


def test_sweep_is_one_job_array_and_status_shows_both(slurm_up: str, tmp_path: Path, capsys) -> None:
    root = tmp_path / "sweep"
    opts = parse_options([
        "--dir", str(root), "--partition", slurm_up, "--time", "10", "--max-parallel", "2", *TINY,
        "--trainer.max_steps", "4", "--model.regularizers", "[{name: l1, weight: 0.1}]",
        "--sweep", "model.regularizers.0.weight=1e-5,1e-3",
    ])
    submitted = launch(opts)
    ids = [job.job_id for job in submitted.jobs]
    array = ids[0].split("_")[0]
    assert ids == [f"{array}_0", f"{array}_1"]  # one array, two tasks
    assert "#SBATCH --array=0-1%2" in (root / "submitit" / f"{array}_submission.sh").read_text()
    assert wait(submitted.jobs) == 0
    for run, weight in zip(submitted.runs, (1e-5, 1e-3)):
        assert Path(run.dir).name == f"{submitted.runs.index(run):02d}-weight={weight}"
        model = regae.load(last_checkpoint(Path(run.dir)))
        assert model.hparams.regularizers == [{"name": "l1", "weight": weight}]
    table = rows(root)
    assert [(r["run"], r["job"], r["state"], r["run_state"], r["step"]) for r in table] == [
        ("00-weight=1e-05", ids[0], "COMPLETED", "completed", 4), ("01-weight=0.001", ids[1], "COMPLETED", "completed", 4)]
    assert all(r["checkpoint"].endswith("checkpoints/last.ckpt") and r["test/psnr"] > 0 for r in table)
    capsys.readouterr()
    assert launch_main(["status", str(root)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split()[:5] == ["run", "job", "state", "run_state", "step"]
    assert [line.split()[:3] for line in printed[1:]] == [["00-weight=1e-05", ids[0], "COMPLETED"],
                                                          ["01-weight=0.001", ids[1], "COMPLETED"]]
    assert (root / "status.txt").read_text().splitlines() == printed


def test_interrupted_job_is_requeued_and_resumes_from_last_checkpoint(slurm_up: str, tmp_path: Path) -> None:
    root, steps, every = tmp_path / "requeue", 48, 4
    opts = parse_options(["--dir", str(root), "--partition", slurm_up, "--tasks-per-node", "2", "--time", "10",
                          *TINY, "--trainer.max_steps", str(steps), "--checkpoint.every_n_train_steps", str(every)])
    submitted = launch(opts)
    (job,) = submitted.jobs
    run = Path(submitted.runs[0].dir)
    # preempt once a checkpoint exists and training went past it
    wait_for(lambda: last_checkpoint(run) and read_status(run).get("global_step", 0) >= 2 * every,
             timeout=240, what="a checkpoint and progress past it")
    job._interrupt()  # SIGTERM, then submitit's USR2: checkpoint() + scontrol requeue
    assert wait([job], settle_s=60) == 0
    first, second = read_attempts(run)
    assert first["start_step"] == 0 and first["job_id"] == job.job_id
    assert second["job_id"] == job.job_id and second["restart"] >= 1
    # resumed (not restarted): the second attempt started at a checkpointed step
    assert second["start_step"] > 0 and second["start_step"] % every == 0, second
    assert second["start_step"] < steps
    log = job.stdout() or ""
    assert f"resuming {run} from {run / 'checkpoints' / 'last.ckpt'}" in log
    ckpt = regae.read_checkpoint(run / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == steps
    # Adam's step counter continued across the requeue: it counts every optimizer step
    assert {int(s["step"]) for s in ckpt["optimizer_states"][0]["state"].values()} == {steps}
    assert read_status(run)["state"] == "completed"


@pytest.mark.parametrize(("extra", "message"), [
    (["--partition", "no-such-partition"], "unknown Slurm partition 'no-such-partition'; partitions: "),
    (["--gpus-per-node", "1"], "--gpus-per-node 1: partition '{p}' has no GPUs"),
    (["--nodes", "2"], "--nodes 2: partition '{p}' has 1 node(s)"),
    (["--model.lr", "-1"], "invalid training config: Expected `lr` finite and > 0, got -1.0."),
    (["--model.arch", "resnet"], "invalid training config: Parser key \"model.arch\""),
    (["--config", "no-such-preset"], "unknown preset 'no-such-preset'"),
    (["--sweep", "model.lr=1e-3,-1"], "sweep point {'model.lr': -1}: invalid training config: Expected `lr`"),
    (["--sweep", "model.nope=1,2"], "sweep key 'model.nope': no 'nope' in model"),
])
def test_bad_input_is_one_line_before_anything_is_queued(slurm_up: str, tmp_path: Path, capsys,
                                                         extra: list[str], message: str) -> None:
    before = queued_jobs()
    root = tmp_path / "bad"
    code = launch_main(["--dir", str(root), *TINY, "--trainer.max_steps", "2", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("launch: error: "), err
    assert message.replace("{p}", slurm_up) in err[0]
    assert not (root / "launch.json").exists() and not (root / "submitit").exists()
    assert queued_jobs() == before


def test_launch_json_records_what_was_submitted(slurm_up: str, tmp_path: Path, capsys) -> None:
    root = tmp_path / "rec"
    code = launch_main(["--dir", str(root), "--partition", slurm_up, "--time", "5", "--sbatch", "comment=regae-test",
                        *TINY, "--trainer.max_steps", "2", "--wait"])
    out = capsys.readouterr().out
    assert code == 0
    record = json.loads((root / "launch.json").read_text())
    job_id = record["runs"][0]["job_id"]
    assert f"launch folder: {root}" in out and f"python -m launch status {root}" in out
    script = (root / "submitit" / f"{job_id}_submission.sh").read_text()
    assert "#SBATCH --comment=regae-test" in script and "#SBATCH --time=5" in script
    assert f"#SBATCH --partition={slurm_up}" in script and "#SBATCH --ntasks-per-node=1" in script
    assert record["options"]["fit_argv"][-2:] == ["--trainer.max_steps", "2"]
    assert out.strip().splitlines()[-1].split()[:5] == ["00", job_id, "COMPLETED", "completed", "2"]

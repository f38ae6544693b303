"""``python -m launch resume DIR``: resubmit every unfinished run of a launch folder.

A run is unfinished when its ``status.json`` does not say ``completed`` and Slurm no longer
holds its job (the job failed, was cancelled, timed out, or lost a node). Each such run is
submitted again with the launch's own options (one job, or one array for several); the
job trains from the run's ``config.yaml`` and resumes from its ``checkpoints/last.ckpt``, as a
requeued job does. ``launch.json`` keeps every job id a run has had. A folder with nothing to
resume (every run completed, or still queued or running) is refused with one line and left
unchanged.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from launch import cluster as slurm
from launch.job import load_status
from launch.options import check_text
from launch.records import options_from_record
from launch.status import LAUNCH_FILE, read_launch
from launch.submit import Launch, Run, echo_submitted, make_executor, submit, write_record
from regae.checkpoints.write import atomic_write_text
from regae.errors import OutputError


def live_jobs(record: dict[str, Any]) -> dict[str, str]:
    """Job id -> state for the jobs of this launch that are still queued or running."""
    if record["cluster"] == "slurm":
        return slurm.queued_jobs()
    if record["cluster"] == "local":  # submitit's local job id is the pid of its controller
        live = {}
        for run in record["runs"]:
            try:
                os.kill(int(run["job_id"]), 0)
                live[run["job_id"]] = "RUNNING"
            except (ValueError, OSError):
                pass
        return live
    return {}  # debug: ran in the launching process, over when it returned


def plan_resume(record: dict[str, Any], root: Path) -> list[dict[str, Any]]:
    """The runs to resubmit; ``OutputError`` (one line) when there are none, or when a run's folder
    is not inside ``root/runs`` or its status.json is not one (resume would guess what to rerun)."""
    runs_dir = root / "runs"
    states = []
    for i, run in enumerate(record["runs"]):
        run_dir = Path(run["dir"])
        if not run_dir.is_absolute() or not run_dir.resolve().is_relative_to(runs_dir):
            raise OutputError(f"{root / LAUNCH_FILE}: runs[{i}].dir {run['dir']!r} is not a folder in {runs_dir} "
                              "(a launch folder that was moved cannot be resumed)")
        states.append(load_status(run_dir).get("state"))
    live = live_jobs(record)
    todo, done, busy = [], [], []
    for run, state in zip(record["runs"], states):
        if state == "completed":
            done.append(run)
        elif run["job_id"] in live:
            busy.append(f"{run['name']}: job {run['job_id']} {live[run['job_id']]}")
        else:
            todo.append(run)
    if not todo:
        parts = [f"{len(done)} run(s) completed"] if done else []
        if busy:
            parts.append(f"{len(busy)} still queued or running ({', '.join(busy)})")
        raise OutputError(f"nothing to resume in {root}: {'; '.join(parts)}")
    return todo


def resubmit(root: Path, echo: bool = True) -> Launch:
    """Resubmit the unfinished runs of the launch folder ``root``; returns the new jobs."""
    root = Path(root).resolve()
    record = read_launch(root)
    opts = options_from_record(record, root / LAUNCH_FILE)
    todo = plan_resume(record, root)
    if opts.cluster == "slurm":
        slurm.check_request(opts.partition, opts.nodes, opts.devices, opts.cpus_per_task, opts.gpus_per_node)
    executor = make_executor(opts, root / "submitit", record["name"], len(todo))
    jobs = submit(executor, [run["dir"] for run in todo])
    for run, job in zip(todo, jobs):
        run["job_id"] = str(job.job_id)
        run.setdefault("jobs", []).append(run["job_id"])
    record.setdefault("resumed", []).append({
        "time": time.strftime("%Y-%m-%d %H:%M:%S"), "runs": [run["name"] for run in todo],
        "jobs": [str(job.job_id) for job in jobs],
    })
    write_record(root, record)
    runs = [Run(run["name"], run["dir"], run["point"], run["job_id"], run["jobs"]) for run in todo]
    if echo:
        echo_submitted(root, opts, runs, jobs, "resubmitted")
    return Launch(root, runs, jobs)


def resume_main(argv: list[str]) -> int:
    from launch.status import status_text
    from launch.submit import wait

    args = [a for a in argv if a != "--wait"]
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m launch resume DIR [--wait]")
        return 0 if args and args[0] in ("-h", "--help") else 2
    resumed = resubmit(Path(check_text("DIR", args[0])))
    if "--wait" in argv:
        failed = wait(resumed.jobs)
        text = status_text(resumed.dir)
        atomic_write_text(text + "\n", resumed.dir / "status.txt")
        print(text)
        return 1 if failed else 0
    return 0

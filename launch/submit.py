"""``python -m launch [options] [regae fit options]``: validate, lay out the folder, submit.

Layout of a launch folder (printed on submit)::

    DIR/launch.json              what was submitted: options, job ids, one entry per run
    DIR/submitit/                submitit pickles and per-task logs (<job>_<task>_log.out/err)
    DIR/runs/NN[-label]/         one run: config.yaml (complete, resolved), checkpoints/last.ckpt,
                                 status.json (state, step, last metrics), attempts.jsonl, logs

Nothing is queued unless the Slurm request fits the partition and every run's config parses
and builds (model + data) here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import submitit

from launch import cluster as slurm
from launch import sweeps
from launch.job import TrainJob
from launch.options import CONTROL_RE, LaunchOptions, check_name, safe_name
from regae.checkpoints.write import atomic_write_json
from regae.errors import ConfigError, OutputError
from regae.threads.job import export_lines, job_environment
from regae.training.fit import resolve, validate, write_config

#: the folder holding the ``launch`` package (a checkout, or site-packages): first on every task's path
REPO_ROOT = Path(__file__).resolve().parent.parent
LAUNCH_FILE = "launch.json"
ACTIVE_STATES = {"PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "REQUEUED", "RESIZING", "SUSPENDED", "UNKNOWN"}


@dataclass
class Run:
    name: str
    dir: str
    point: dict[str, Any]
    job_id: str = ""  # the latest job of this run
    jobs: list[str] = field(default_factory=list)  # every job submitted for it (python -m launch resume adds)


@dataclass
class Launch:
    dir: Path
    runs: list[Run]
    jobs: list[submitit.Job]


def default_name(fit_argv: list[str]) -> str:
    """The launch name without ``--name``: the ``--config`` preset/file name, made folder-safe."""
    for i, arg in enumerate(fit_argv):
        if arg in ("--config", "-c") and i + 1 < len(fit_argv):
            return safe_name(Path(fit_argv[i + 1]).stem)
        if arg.startswith("--config="):
            return safe_name(Path(arg.split("=", 1)[1]).stem)
    return "run"


def check_launch_dir(root: Path) -> Path | None:
    """Refuse (``OutputError``, one line) a launch folder that cannot be created or written, before
    anything is written; returns the topmost folder of ``root/runs`` that does not exist yet (the one
    to remove if writing fails half-way), or None if ``root/runs`` exists."""
    if CONTROL_RE.search(str(root)):
        raise OutputError(f"cannot use launch folder {str(root)!r}: its path holds control characters, which "
                          "would end a line of the Slurm batch script")
    try:
        if root.exists() and not root.is_dir():
            raise OutputError(f"cannot use launch folder {root}: it exists and is not a folder")
        if (root / LAUNCH_FILE).exists():
            raise OutputError(f"{root} already holds a launch; pick another --dir/--name or remove it")
        missing, parent = None, root / "runs"
        while not parent.exists() and not parent.is_symlink():
            missing, parent = parent, parent.parent
    except OSError as exc:  # a name too long, a folder it may not look into
        raise OutputError(f"cannot use launch folder {root}: {exc.strerror or exc}") from None
    if not parent.is_dir():
        raise OutputError(f"cannot create launch folder {root}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write launch folder {root}: {parent} is not writable")
    return missing


def trainer_settings(opts: LaunchOptions, run_dir: Path) -> dict[str, Any]:
    """Trainer values the launcher owns: one process per task, nodes, where checkpoints go."""
    return {
        "accelerator": "gpu" if opts.gpus_per_node else "cpu",
        "devices": opts.devices,
        "num_nodes": opts.nodes,
        "strategy": "ddp" if opts.devices * opts.nodes > 1 else "auto",
        "default_root_dir": str(run_dir),
    }


def plan_runs(opts: LaunchOptions, base: dict[str, Any], root: Path) -> list[tuple[Run, dict[str, Any]]]:
    """One (run, full config) per sweep point, each validated; no files left behind."""
    points = sweeps.grid(sweeps.parse_sweeps(opts.sweep))
    plans = []
    for i, point in enumerate(points):
        label = sweeps.run_label(point)
        name = f"{i:02d}-{label}" if label else f"{i:02d}"
        run_dir = root / "runs" / name
        config = base
        for key, value in point.items():
            config = sweeps.set_path(config, key, value)
        config = sweeps.set_path(config, "trainer", {**config["trainer"], **trainer_settings(opts, run_dir)})
        try:
            validate(config)
        except ConfigError as exc:
            where = f"sweep point {point}: " if point else ""
            raise ConfigError(f"{where}{exc}") from None
        plans.append((Run(name, str(run_dir), point), config))
    return plans


def job_setup(opts: LaunchOptions, environ: dict[str, str] | None = None) -> list[str]:
    """Shell lines the batch script runs before ``srun``, so every task starts as ``regae`` does: this
    checkout first on ``PYTHONPATH`` (quoted: any path works, none runs), then the CPU settings
    :func:`regae.threads.job.job_environment` decides for the submitting environment."""
    env = os.environ if environ is None else environ
    return [f"export PYTHONPATH={shlex.quote(str(REPO_ROOT))}${{PYTHONPATH:+:$PYTHONPATH}}",
            *export_lines(job_environment(env, opts.cpus_per_task))]


def check_script_values(params: dict[str, Any], folder: Path) -> None:
    """Refuse (``ConfigError``) any value submitit would write into a line of the batch script that a
    control character could end: ``#SBATCH --key=value`` lines are shell comments, so a newline in a
    key, a value or the log folder would start a shell line of its own. (submitit quotes values with
    ``shlex.quote``, but not keys, and a quoted newline still ends a comment.) The options were checked
    when parsed or read back; this is the last look at exactly what goes into the script."""
    texts = [("submitit folder", str(folder))]
    for key, value in params.items():
        if key == "slurm_additional_parameters":
            texts += [("--sbatch", k if v is True else f"{k}={v}") for k, v in value.items()]
        elif isinstance(value, str):
            texts.append((key, value))
    for what, text in texts:
        if CONTROL_RE.search(text):
            raise ConfigError(f"{what} must not contain control characters (newline, tab, ...): they would end a "
                              f"line of the Slurm batch script, got {text!r}")


def make_executor(opts: LaunchOptions, folder: Path, name: str, n_runs: int) -> submitit.Executor:
    check_name(name)
    params: dict[str, Any] = {
        "name": name, "timeout_min": opts.time_min, "nodes": opts.nodes,
        "tasks_per_node": opts.devices, "cpus_per_task": opts.cpus_per_task,
    }
    if opts.gpus_per_node:
        params["gpus_per_node"] = opts.gpus_per_node
    if opts.cluster == "slurm":
        params.update({
            "slurm_partition": opts.partition, "slurm_signal_delay_s": opts.signal_delay_s,
            "slurm_setup": job_setup(opts),
        })
        for key, value in (("slurm_mem", opts.mem), ("slurm_account", opts.account), ("slurm_qos", opts.qos)):
            if value:
                params[key] = value
        if opts.sbatch:
            params["slurm_additional_parameters"] = dict(opts.sbatch)
        if n_runs > 1:
            params["slurm_array_parallelism"] = opts.max_parallel or n_runs
    check_script_values(params, folder)
    executor = submitit.AutoExecutor(folder=folder, cluster=opts.cluster, slurm_max_num_timeout=opts.max_requeue)
    executor.update_parameters(**params)
    return executor


def submit(executor: submitit.Executor, run_dirs: list[str]) -> list[submitit.Job]:
    """One job for one run, one job array for several (each run resumes from its own last.ckpt)."""
    try:
        if len(run_dirs) == 1:
            return [executor.submit(TrainJob(), run_dirs[0])]
        return executor.map_array(TrainJob(), run_dirs)
    except Exception as exc:  # sbatch refused: its message is the useful part
        raise slurm.ClusterError(f"submission failed: {' '.join(str(exc).split())[:400]}") from None


def write_record(root: Path, record: dict[str, Any]) -> None:
    """``launch.json``, atomically; after a submission, so a failure names the jobs now queued."""
    try:
        atomic_write_json(record, root / LAUNCH_FILE)
    except OSError as exc:
        jobs = ", ".join(run["job_id"] for run in record["runs"] if run.get("job_id"))
        raise OutputError(f"cannot write {root / LAUNCH_FILE}: {exc.strerror or exc} (job(s) {jobs} were "
                          "submitted; scancel them or free the folder)") from None


def echo_submitted(root: Path, opts: LaunchOptions, runs: list[Run], jobs: list[submitit.Job], verb: str) -> None:
    kind = "job array" if len(jobs) > 1 else "job"
    print(f"{verb} {kind} {jobs[0].job_id.split('_')[0]} ({len(jobs)} run(s), cluster {opts.cluster}, "
          f"{opts.nodes} node(s) x {opts.devices} task(s))")
    print(f"launch folder: {root}")
    for run in runs:
        print(f"  {run.job_id:>12s}  {run.dir}")
    print(f"status: python -m launch status {root}")


def launch(opts: LaunchOptions, echo: bool = True) -> Launch:
    """Validate everything, write the launch folder, submit; returns the submitted jobs."""
    name = check_name(opts.name or default_name(opts.fit_argv))
    root = Path(opts.dir or Path("runs") / "launch" / name).resolve()
    created = check_launch_dir(root)
    if opts.cluster == "slurm":
        opts.partition = slurm.check_request(opts.partition, opts.nodes, opts.devices, opts.cpus_per_task,
                                             opts.gpus_per_node)
    base = resolve(opts.fit_argv)
    plans = plan_runs(opts, base, root)
    runs = [run for run, _ in plans]
    try:
        for run, config in plans:
            write_config(config, Path(run.dir) / "config.yaml")
        executor = make_executor(opts, root / "submitit", name, len(plans))
    except Exception as exc:  # nothing is queued yet: remove what this call created, leave no half launch
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write launch folder {root}: {exc.strerror or exc}") from None
        raise
    jobs = submit(executor, [run.dir for run in runs])
    for run, job in zip(runs, jobs):
        run.job_id = str(job.job_id)
        run.jobs.append(run.job_id)
    write_record(root, {
        "created": time.strftime("%Y-%m-%d %H:%M:%S"), "cluster": opts.cluster, "name": name,
        "submitit_folder": str(root / "submitit"), "options": asdict(opts), "runs": [asdict(r) for r in runs],
    })
    if echo:
        echo_submitted(root, opts, runs, jobs, "submitted")
    return Launch(root, runs, jobs)


def wait(jobs: list[submitit.Job], settle_s: float = 60.0) -> int:
    """Wait for every job (all its tasks) and for the scheduler to mark it ended; count failures."""
    failed = 0
    for job in jobs:
        try:
            job.results()
        except Exception as exc:  # the run's own log has the traceback
            failed += 1
            last = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            print(f"launch: job {job.job_id} failed: {last[:300]}", file=sys.stderr)
    deadline = time.time() + settle_s
    for job in jobs:
        while isinstance(job, submitit.SlurmJob) and job.state in ACTIVE_STATES and time.time() < deadline:
            time.sleep(1)
    return failed

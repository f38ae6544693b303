"""The environment every task of a cluster job starts with, decided here and exported by ``launch``.

A Slurm task's Python process is submitit's, not regae's entry point, and OpenMP reads its
settings when torch first loads, so the job's batch script must set them before ``srun``.
:func:`job_environment` says which: the same policy :func:`regae.threads.policy.thread_settings`
applies, fixed to :data:`~regae.threads.policy.BUSY` (``OMP_WAIT_POLICY=PASSIVE``: a cluster
node is shared, idle threads sleep instead of spinning), and one OpenMP thread per CPU Slurm
gives the task (``--cpus-per-task``; else torch, and Lightning's DDP on CPU, size their pools by
the node's cores, not the task's share). A variable the user set when submitting is left alone:
``sbatch`` passes the submitting environment on to the job.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from regae.threads.policy import BUSY, USER_POLICY_VARS


def job_environment(environ: Mapping[str, str], cpus_per_task: int) -> dict[str, str]:
    """The variables to export into each task of a job submitted from ``environ``."""
    out: dict[str, str] = {}
    if not any(var in environ for var in USER_POLICY_VARS):
        out.update(BUSY)
    if "OMP_NUM_THREADS" not in environ:
        out["OMP_NUM_THREADS"] = str(int(cpus_per_task))
    return out


def export_lines(variables: Mapping[str, str]) -> list[str]:
    """``export NAME=value`` shell lines, each value quoted for the shell."""
    return [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]

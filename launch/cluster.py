"""What the Slurm controller can tell before a job is queued: the partition and its nodes.

``sbatch`` would reject some of these requests itself, but only with a raw message after the
submission machinery ran; asking ``scontrol``/``sinfo`` first gives one line that names the
value and what the cluster offers.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from regae.errors import RegaeError


class ClusterError(RegaeError):
    """Slurm is missing, or the request does not fit the cluster (partition, GPUs, nodes)."""


@dataclass(frozen=True)
class Node:
    name: str
    cpus: int
    gpus: int  # GPUs in the node's generic resources (Gres=gpu[:type]:N), 0 if none


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    if shutil.which(cmd[0]) is None:
        raise ClusterError(f"`{cmd[0]}` not found: Slurm client tools are needed for --cluster slurm "
                           "(use --cluster local to run without Slurm)")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def parse_gpus(gres: str) -> int:
    """GPUs in a Gres string: ``gpu:4`` -> 4, ``gpu:a100:2(S:0-1),gpu:v100:1`` -> 3, ``(null)`` -> 0."""
    total = 0
    for item in gres.split(","):
        fields = re.sub(r"\(.*?\)", "", item).split(":")
        if fields[0] == "gpu":
            total += int(fields[-1]) if len(fields) > 1 and fields[-1].isdigit() else 1
    return total


def default_partition() -> str:
    out = _run(["sinfo", "-h", "-o", "%P"]).stdout.split()
    for name in out:
        if name.endswith("*"):
            return name[:-1]
    raise ClusterError("no default Slurm partition; pass --partition NAME")


def partitions() -> list[str]:
    return sorted({p.rstrip("*") for p in _run(["sinfo", "-h", "-o", "%P"]).stdout.split()})


def partition_nodes(partition: str) -> list[Node]:
    """The nodes of ``partition`` (error naming the known partitions if it does not exist)."""
    res = _run(["scontrol", "show", "partition", partition, "-o"])
    if res.returncode != 0 or "PartitionName=" not in res.stdout:
        raise ClusterError(f"unknown Slurm partition {partition!r}; partitions: {', '.join(partitions()) or 'none'}")
    res = _run(["sinfo", "-h", "-N", "-p", partition, "-o", "%N|%c|%G"])
    nodes = []
    for line in sorted(set(res.stdout.splitlines())):
        name, cpus, gres = line.split("|")
        nodes.append(Node(name, int(cpus), parse_gpus(gres)))
    return nodes


def check_request(partition: str | None, nodes: int, tasks_per_node: int, cpus_per_task: int,
                  gpus_per_node: int) -> str:
    """Raise ``ClusterError`` if the partition cannot run the request; return the partition."""
    partition = partition or default_partition()
    members = partition_nodes(partition)
    if len(members) < nodes:
        raise ClusterError(f"--nodes {nodes}: partition {partition!r} has {len(members)} node(s)")
    if gpus_per_node > 0:
        fit = [n for n in members if n.gpus >= gpus_per_node]
        if len(fit) < nodes:
            best = max((n.gpus for n in members), default=0)
            where = "has no GPUs" if best == 0 else f"has at most {best} GPU(s) per node"
            raise ClusterError(f"--gpus-per-node {gpus_per_node}: partition {partition!r} {where} "
                               f"({len(fit)} of {len(members)} node(s) fit, {nodes} needed)")
    need = tasks_per_node * cpus_per_task
    fit = [n for n in members if n.cpus >= need]
    if len(fit) < nodes:
        best = max((n.cpus for n in members), default=0)
        raise ClusterError(f"{tasks_per_node} task(s) x {cpus_per_task} CPU(s) = {need} CPUs per node: "
                           f"partition {partition!r} has at most {best} CPUs per node")
    return partition


def queued_jobs() -> dict[str, str]:
    """This user's jobs that Slurm still holds (pending, running, completing...): id -> state.

    Array tasks are listed one by one under submitit's ids (``12_3``); a job that has ended is
    not listed.
    """
    res = _run(["squeue", "-h", "-r", "--me", "-o", "%i|%T"])
    if res.returncode != 0:
        raise ClusterError(f"squeue failed: {' '.join(res.stderr.split())[:300]}")
    return dict(line.split("|", 1) for line in res.stdout.splitlines() if "|" in line)

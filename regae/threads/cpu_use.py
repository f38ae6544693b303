"""How much of this process's cores other processes use, read from ``/proc/stat`` (Linux).

Nothing here imports torch: :mod:`regae.threads.policy` reads it before torch loads, and
:class:`regae.training.core_share.CoreShare` every second of training.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass


def runnable_others(samples: int = 3) -> float | None:
    """Threads of other processes ready to run right now: Linux's ``procs_running`` (which
    counts this process too) minus one, median of a few looks 1 ms apart; None off Linux."""
    seen = []
    try:
        for i in range(samples):
            with open("/proc/stat") as f:
                seen += [int(line.split()[1]) - 1 for line in f if line.startswith("procs_running")]
            if i + 1 < samples:
                time.sleep(0.001)
    except (OSError, ValueError, IndexError):
        return None
    return statistics.median(seen) if seen else None


def _cpu_jiffies(stat: str, cpus: set[int] | None) -> tuple[int, int]:
    """(busy, total) clock ticks summed over ``cpus`` (all when None) from ``/proc/stat`` text.

    Busy = user + nice + system + irq + softirq + steal; idle and iowait are not busy
    (guest time is already inside user and nice)."""
    busy = total = 0
    for line in stat.splitlines():
        name, *fields = line.split()
        if not (name.startswith("cpu") and name[3:].isdigit()) or (cpus is not None and int(name[3:]) not in cpus):
            continue
        ticks = [int(f) for f in fields[:8]]
        busy += sum(ticks) - ticks[3] - ticks[4]
        total += sum(ticks)
    return busy, total


@dataclass(frozen=True)
class Sample:
    """Cumulative counters at one moment: the CPUs' busy and total ticks, this process's CPU seconds, wall seconds."""

    busy: int
    total: int
    cpu: float
    wall: float


def cpus() -> set[int] | None:
    """The CPUs this process may run on (None where the OS does not say)."""
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None


def count(on: set[int] | None) -> int:
    """How many CPUs ``on`` is; all of the machine's where the OS did not say (None)."""
    return len(on) if on else (os.cpu_count() or 1)


def sample(on: set[int] | None = None) -> Sample | None:
    """:class:`Sample` now, over the CPUs ``on`` (default: all); None where ``/proc/stat`` cannot be read."""
    try:
        with open("/proc/stat") as f:
            busy, total = _cpu_jiffies(f.read(), on)
    except (OSError, ValueError, IndexError):
        return None
    return Sample(busy, total, time.process_time(), time.monotonic())


def others_between(a: Sample, b: Sample, n: int) -> float | None:
    """Cores' worth of CPU other processes used between two samples on ``n`` CPUs: all the
    busy time minus this process's; None when no tick passed.

    ``/proc/stat`` counts in ticks of 10 ms: over 0.1 s on 2 cores a busy core shows as 1.0 ± 0.1."""
    if b.total <= a.total or b.wall <= a.wall:
        return None
    return max(0.0, n * (b.busy - a.busy) / (b.total - a.total) - (b.cpu - a.cpu) / (b.wall - a.wall))


def others_cpu_use(window: float = 0.1) -> float | None:
    """Cores' worth of CPU time other processes use over the next ``window`` seconds, on the
    cores this process may run on (this process sleeps meanwhile). None off Linux."""
    on = cpus()
    a = sample(on)
    time.sleep(window)
    b = sample(on)
    if a is None or b is None:
        return None
    return others_between(a, b, count(on))

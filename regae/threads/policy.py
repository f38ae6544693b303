"""CPU threading for regae's entry points, settled before torch loads.

OpenMP (libgomp in torch's Linux wheels; LLVM's or Intel's runtime elsewhere) reads its wait
policy once, when torch is first imported, so only a process's entry point can choose it:
``regae``, ``python -m launch`` and ``python -m demo`` call :func:`configure_threads` first.

Why: torch runs an op on all cores, and between ops OpenMP's worker threads *spin* before they
sleep (libgomp: 300,000 spins, a few ms). When other processes share the cores, the spinning
threads of each process steal the time slices the others need, and a step becomes 10-70x
slower (benchmarks/README.md: the 784-512-256-128-30 MLP step took 8 ms alone and 572 ms beside
one busy 2-thread torch loop). Threads that sleep at once (``OMP_WAIT_POLICY=PASSIVE``) never
collapse like that, but waking them costs tens of microseconds per op, which an otherwise
idle machine notices on small nets (the same MLP step: 11.1 instead of 8.0 ms).

What :func:`configure_threads` sets (only variables the user left unset, only before torch
is imported, and nothing if the user set any of :data:`USER_POLICY_VARS`):

* when the machine is already busy as the command starts (:func:`machine_busy`: the CPU time
  other processes used in the last 0.1 s, or the threads of other processes ready to run right
  now, at least half the cores) or its load is unknown: :data:`BUSY`, threads sleep at once.
  Both are measured now: the load average, which lags a minute or two behind (it kept saying
  "busy" right after a neighbour stopped, costing 5.3 -> 9.0 ms per MLP step on the idle
  machine), is read only where ``/proc/stat`` is not (not Linux);
* when it is idle: :data:`IDLE`, threads spin briefly before they sleep (libgomp: 10,000
  spins, about 0.1-0.2 ms; LLVM/Intel OpenMP: 1 ms, its unit), which covers most gaps between
  the ops of a training step (median ~25 µs, 75 % under ~120 µs on the MLP) while bounding
  what a spinning thread can take from a neighbour that starts later.

The thread count is not set here: a count in the environment would reach the processes this
one starts (Lightning's DDP workers, ``python -m launch``'s cluster jobs). Under DDP on a CPU,
Lightning gives each of the ``n`` processes on a node ``cores // n`` threads when
``OMP_NUM_THREADS`` is unset (``_set_num_threads_if_needed``); a one-process CPU run gets
:class:`regae.training.core_share.CoreShare`, which sets torch's count in-process to the cores other processes
leave free, measured as it trains. regae never sets ``OMP_NUM_THREADS`` (tests/threads/test_policy.py
checks both). The wait policy changes timing only, never results.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping

from regae.threads.cpu_use import count, cpus, others_cpu_use, runnable_others

#: set when other processes already keep the cores busy: OpenMP threads sleep at once
BUSY: dict[str, str] = {"OMP_WAIT_POLICY": "PASSIVE"}
#: set on an idle machine: spin briefly before sleeping (libgomp counts spins, LLVM/Intel OpenMP ms)
IDLE: dict[str, str] = {"GOMP_SPINCOUNT": "10000", "KMP_BLOCKTIME": "1"}
#: a user's own setting of any of these means "leave the wait policy alone"
USER_POLICY_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")


def machine_busy(use: float | None = None, others: float | None = None, cores: int | None = None,
                 load: float | None = None) -> bool:
    """Whether other processes keep at least half of this process's cores busy, as measured now:
    the cores' worth of CPU they used in the last 0.1 s (:func:`others_cpu_use`) or the threads
    they have ready to run (:func:`runnable_others`: a neighbour that just started), whichever is
    larger, ≥ cores / 2. Only where neither can be read is the 1-minute load average used
    (``load``; it lags a minute or two behind); True when nothing can be read. The instant count
    is read first: when it already says busy, the 0.1 s sample is not taken."""
    if cores is None:
        cores = count(cpus())
    if others is None:
        others = runnable_others()
    if others is not None and others >= cores / 2:
        return True
    if use is None:
        use = others_cpu_use()
    if use is None and others is None:
        if load is None:
            try:
                load = os.getloadavg()[0]
            except (AttributeError, OSError):
                return True
        use = load
    return max(use or 0.0, others or 0.0) >= cores / 2


def thread_settings(environ: Mapping[str, str] | None = None, busy: bool | None = None) -> dict[str, str]:
    """The variables regae would set in ``environ`` (default ``os.environ``): none when the user
    chose a wait policy, else :data:`BUSY` or :data:`IDLE` (``busy`` default:
    :func:`machine_busy`). Pure: it sets nothing."""
    env = os.environ if environ is None else environ
    if any(v in env for v in USER_POLICY_VARS):
        return {}
    return dict(BUSY if (machine_busy() if busy is None else busy) else IDLE)


def configure_threads(environ: MutableMapping[str, str] | None = None, busy: bool | None = None) -> dict[str, str]:
    """Set regae's OpenMP wait policy in ``environ`` (default ``os.environ``); returns what it set.

    Does nothing once torch is imported (the OpenMP runtime has read its settings by then)
    or when the user chose a wait policy.
    """
    env = os.environ if environ is None else environ
    if "torch" in sys.modules:
        return {}
    settings = thread_settings(env, busy)
    env.update(settings)
    return settings

"""CPU threading for regae's entry points, settled before torch loads.

OpenMP (libgomp, which torch's CPU kernels use) reads its wait policy once, when torch is
first imported, so it can only be chosen by a process's entry point: ``regae``,
``python -m launch`` and ``python -m demo`` call :func:`configure_threads` first thing.

Why: with OpenMP's default policy an idle worker thread spins for a while before it sleeps.
On a machine whose cores are shared, the spinning threads of two processes steal each other's
time slices. Measured on a 2-core machine (benchmarks/README.md), one training step of the
784-512-256-128-30 MLP with 2 threads took 8 ms alone and 572 ms beside one busy 2-thread
torch loop; with ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep at once) it took 28 ms there.

What is set (each only when the user has not set it, and only before torch is imported):

* ``OMP_WAIT_POLICY=PASSIVE`` unless ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is set;
* nothing about the thread count: torch's default (one thread per core) stands, a user's
  ``OMP_NUM_THREADS`` stands, and under DDP on a CPU Lightning gives each of the
  ``n`` processes on a node ``cores // n`` threads (``_set_num_threads_if_needed``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping

#: environment variables and the values regae sets when the user set none of their group
DEFAULTS: dict[str, str] = {"OMP_WAIT_POLICY": "PASSIVE"}
#: a user's own setting of any of these means "leave the wait policy alone"
USER_POLICY_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def thread_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables regae would set in ``environ`` (default ``os.environ``): none when the user
    chose a wait policy, else :data:`DEFAULTS`. Pure: sets nothing (benchmarks pass the same
    settings to a peer library's process)."""
    env = os.environ if environ is None else environ
    if any(v in env for v in USER_POLICY_VARS):
        return {}
    return dict(DEFAULTS)


def configure_threads(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set regae's OpenMP defaults in ``environ`` (default ``os.environ``); returns what it set.

    Does nothing once torch is imported (the OpenMP runtime has read its settings by then)
    or when the user chose a wait policy.
    """
    env = os.environ if environ is None else environ
    if "torch" in sys.modules:
        return {}
    settings = thread_settings(env)
    env.update(settings)
    return settings

"""torch's CPU thread count: the one place regae sets it.

Every entry point that chooses a count calls :func:`set_threads` (``regae study --threads``, the
demo's ``--threads``, the pilots) and :class:`regae.training.core_share.CoreShare` moves it with
the cores other processes leave free (:func:`fair_threads`). Nothing here touches
``OMP_NUM_THREADS``: a count in the environment would reach the processes regae starts (DDP
workers, cluster jobs), whose count is theirs (:mod:`regae.threads.job`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from regae.errors import ConfigError


def get_threads() -> int:
    """torch's intra-op thread count now."""
    return torch.get_num_threads()


def set_threads(n: int) -> int:
    """Set torch's intra-op thread count to ``n`` (>= 1); returns the count it replaced."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"Expected a thread count >= 1, got {n!r}.")
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    return before


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """Within this block torch runs on ``n`` threads; the count before is restored after."""
    before = set_threads(n)
    try:
        yield
    finally:
        set_threads(before)


def fair_threads(others: float, n: int, most: int) -> int:
    """Threads for the cores the others leave: ``round(n − others)``, at least 1 and at most ``most``."""
    return max(1, min(most, int(n - others + 0.5)))

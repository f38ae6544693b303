"""Time arithmetic of the GPU check: one deadline for the whole run, and long fits that shorten themselves.

A lent GPU gives a session 15 minutes of device time and one command at most 10; the check must
end on its own, with what it has, rather than be killed with nothing written. So every stage
asks the :class:`Deadline` how much it may use (what is left, less the minimum the later stages
need), and a long fit stops itself at an epoch end once another epoch would not fit
(:func:`should_stop`), its 20-epoch time then extrapolated from the epochs it ran
(:func:`extrapolate_fit`, always labelled as such). Pure Python, no torch: the fast tests check it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence


class Deadline:
    """``budget_s`` seconds from ``start`` (default: now) on ``clock`` (default ``time.monotonic``)."""

    def __init__(self, budget_s: float, clock: Callable[[], float] = time.monotonic, start: float | None = None) -> None:
        if not budget_s > 0:
            raise ValueError(f"budget must be > 0 s, got {budget_s}")
        self.budget_s, self.clock = float(budget_s), clock
        self.start = clock() if start is None else start

    def elapsed(self) -> float:
        return self.clock() - self.start

    def remaining(self) -> float:
        """Seconds left, never below 0."""
        return max(0.0, self.budget_s - self.elapsed())

    def allowed(self, reserve_s: float = 0.0, cap_s: float | None = None) -> float:
        """Seconds a stage may use: what is left less ``reserve_s`` (kept for later stages), at most ``cap_s``."""
        left = max(0.0, self.remaining() - reserve_s)
        return left if cap_s is None else min(left, cap_s)

    def allows(self, need_s: float, reserve_s: float = 0.0) -> bool:
        """Whether ``need_s`` seconds fit in :meth:`allowed` (``reserve_s`` kept back)."""
        return self.allowed(reserve_s) >= need_s


def should_stop(elapsed_s: float, epoch_s: Sequence[float], allowed_s: float, reserve_s: float = 0.0) -> bool:
    """At an epoch end: stop when one more epoch of the mean length so far (and ``reserve_s``, e.g.
    the test pass after the fit) would end past ``allowed_s`` (all in seconds since the run started)."""
    if not epoch_s:
        return elapsed_s + reserve_s > allowed_s
    mean = sum(epoch_s) / len(epoch_s)
    return elapsed_s + mean + reserve_s > allowed_s


def extrapolate_fit(wall_s: float, fit_s: float, epochs_done: float, total_epochs: int) -> tuple[float, bool]:
    """(seconds a ``total_epochs`` run would take, whether that is extrapolated) from a run that took
    ``wall_s`` in all, ``fit_s`` of it in ``epochs_done`` epochs of training (validation included).

    What is not training (start-up, reading the data, building, testing) is counted once; the
    training time scales with the epochs. A run that did them all is its own measurement.
    """
    if epochs_done <= 0:
        raise ValueError("no epoch finished: nothing to extrapolate from")
    if epochs_done >= total_epochs:
        return wall_s, False
    fixed = max(0.0, wall_s - fit_s)
    return fixed + fit_s * total_epochs / epochs_done, True


def epochs_that_fit(allowed_s: float, fixed_s: float, epoch_s: float, wanted: int, least: int = 1) -> int:
    """How many epochs of ``epoch_s`` seconds fit in ``allowed_s`` after ``fixed_s`` of overhead: at most
    ``wanted``, at least ``least`` (a stage runs something or is skipped by its caller)."""
    if epoch_s <= 0:
        return wanted
    return max(least, min(wanted, int(math.floor((allowed_s - fixed_s) / epoch_s))))


def verdict(value: float | None, target: float | None, op: str = "<=") -> str:
    """'PASS'/'FAIL' of ``value op target``; 'INFO' without a target; 'SKIP' without a value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "SKIP"
    if target is None:
        return "INFO"
    if op not in ("<=", ">=", "<", ">"):
        raise ValueError(f"unknown comparison {op!r}")
    ok = {"<=": value <= target, ">=": value >= target, "<": value < target, ">": value > target}[op]
    return "PASS" if ok else "FAIL"


def largest_within(psnr_by_batch: dict[int, float], reference: int, tolerance_db: float) -> int | None:
    """The largest batch size whose PSNR is at most ``tolerance_db`` below the ``reference`` batch's
    (None without the reference); higher PSNR always qualifies."""
    if reference not in psnr_by_batch:
        return None
    ref = psnr_by_batch[reference]
    ok = [b for b, p in psnr_by_batch.items() if p >= ref - tolerance_db]
    return max(ok)

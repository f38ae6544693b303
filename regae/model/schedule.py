"""Learning-rate schedules as multipliers of the base rate, one value per optimizer step.

``constant``: 1.  ``cosine``: linear warm-up from ~0 to 1 over the first ``w = round(warmup · T)``
steps, then half a cosine from 1 down to ``floor`` at step T:

    f(t) = (t + 1) / w                                           for t < w
    f(t) = floor + (1 - floor) · ½ (1 + cos(π (t - w) / (T - w)))  for w ≤ t < T

(the rate of step t is lr · f(t); T is the run's total number of optimizer steps).
"""

from __future__ import annotations

import math

from regae.errors import ConfigError

SCHEDULES = ("constant", "cosine")


def check_schedule(name: str, warmup: float, floor: float) -> None:
    """Raise :class:`ConfigError` for an unknown schedule or an out-of-range fraction."""
    if name not in SCHEDULES:
        raise ConfigError(f"Expected `lr_schedule` in {list(SCHEDULES)}, got {name!r}.")
    if not 0 <= warmup < 1:
        raise ConfigError(f"Expected `warmup` (fraction of the training steps) in [0, 1), got {warmup}.")
    if not 0 <= floor <= 1:
        raise ConfigError(f"Expected `lr_floor` (fraction of lr) in [0, 1], got {floor}.")


def lr_factor(step: int, total: int, name: str = "cosine", warmup: float = 0.0, floor: float = 0.0) -> float:
    """f(step) of the docstring above; steps at or after ``total`` keep the final value."""
    if name == "constant":
        return 1.0
    total = max(1, total)
    w = round(warmup * total)
    if step < w:
        return (step + 1) / w
    progress = min(1.0, (step - w) / max(1, total - w))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

"""Send ``regae fit`` to Slurm (or run it locally) with submitit: DDP tasks, sweeps, requeue.

Not part of the installed ``regae`` package: run ``python -m launch`` from the repository root.
Names are imported on first use, so ``python -m launch`` can settle CPU threading
(:mod:`regae.threads.policy`) before torch loads.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainJob": "launch.job", "LaunchOptions": "launch.options", "parse_options": "launch.options",
    "format_table": "launch.status", "rows": "launch.status", "Launch": "launch.submit", "launch": "launch.submit",
    "resume": "launch.resume",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'launch' has no attribute {name!r}")

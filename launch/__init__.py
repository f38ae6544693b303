"""Send ``regae fit`` to Slurm (or run it locally) with submitit: DDP tasks, sweeps, requeue.

Ships with regae (``pip install 'regae[launch]'`` adds submitit): ``python -m launch --help``.
Names are imported on first use, so ``python -m launch`` can settle CPU threading
(:mod:`regae.threads.policy`) before torch loads.
"""

from __future__ import annotations

from regae import _lazy_exports

_EXPORTS = {
    "TrainJob": "launch.job", "LaunchOptions": "launch.options", "parse_options": "launch.options",
    "format_table": "launch.status", "rows": "launch.status", "Launch": "launch.submit", "launch": "launch.submit",
    "resubmit": "launch.resume",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)

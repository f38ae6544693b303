"""Analyses that take trained checkpoints and write report sections (``regae report``, ``check-rerun``).

Names are imported on first use, so ``regae report --help`` starts without torch. No module of
this package shares a name with a function it exports (``interpolate`` lives in
:mod:`regae.analysis.interpolation`).
"""

from __future__ import annotations

from regae import _lazy_exports

_EXPORTS = {
    "DEFAULT_ALPHAS": "regae.analysis.interpolation", "Interpolation": "regae.analysis.interpolation",
    "interpolate": "regae.analysis.interpolation",
    "build_report": "regae.analysis.report",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)

"""Analyses that take trained checkpoints and write report sections (``regae report``, ``check-rerun``).

Names are imported on first use, so ``regae report --help`` starts without torch. No module of
this package shares a name with a function it exports (``interpolate`` lives in
:mod:`regae.analysis.interpolation`).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_ALPHAS": "regae.analysis.interpolation", "Interpolation": "regae.analysis.interpolation",
    "interpolate": "regae.analysis.interpolation",
    "build_report": "regae.analysis.report",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'regae.analysis' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__

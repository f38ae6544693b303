"""Analyses that take trained checkpoints and write report sections.

Names are imported on first use, so ``regae report --help`` starts without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_ALPHAS": "regae.analysis.interpolate", "Interpolation": "regae.analysis.interpolate",
    "interpolate": "regae.analysis.interpolate", "psnr_per_image": "regae.analysis.interpolate",
    "Section": "regae.analysis.section",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'regae.analysis' has no attribute {name!r}")

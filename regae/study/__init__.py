"""The wider autoencoder study: experiments that each return report Sections.

Public names are imported on first use (PEP 562), so ``regae study --help`` needs no torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "LEVELS": "regae.study.budgets", "RECIPES": "regae.study.budgets", "Budget": "regae.study.budgets",
    "Level": "regae.study.budgets", "Recipe": "regae.study.budgets", "plan": "regae.study.budgets",
    "StudyContext": "regae.study.runner",
    "load_sections": "regae.reports.writer", "write_report": "regae.reports.writer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'regae.study' has no attribute {name!r}")


if TYPE_CHECKING:
    from regae.reports.writer import load_sections, write_report  # noqa: F401
    from regae.study.budgets import LEVELS, RECIPES, Budget, Level, Recipe, plan  # noqa: F401
    from regae.study.runner import StudyContext  # noqa: F401

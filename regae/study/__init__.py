"""The wider autoencoder study: experiments that each return report Sections.

Public names are imported on first use (PEP 562), so ``regae study --help`` needs no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from regae import _lazy_exports

_EXPORTS = {
    "LEVELS": "regae.study.budgets", "RECIPES": "regae.study.budgets", "Budget": "regae.study.budgets",
    "Level": "regae.study.budgets", "Recipe": "regae.study.budgets", "plan": "regae.study.budgets",
    "StudyContext": "regae.study.runner",
    "load_sections": "regae.reports.writer", "write_report": "regae.reports.writer",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:
    from regae.reports.writer import load_sections, write_report  # noqa: F401
    from regae.study.budgets import LEVELS, RECIPES, Budget, Level, Recipe, plan  # noqa: F401
    from regae.study.runner import StudyContext  # noqa: F401

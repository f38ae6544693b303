"""The wider autoencoder study: experiments that each return report Sections."""

from regae.study.runner import BUDGETS, Budget, StudyContext
from regae.study.writer import load_sections, write_sections

__all__ = ["BUDGETS", "Budget", "StudyContext", "load_sections", "write_sections"]

"""A report section: markdown text, figure files beside it and the numbers behind it.

Every analysis (the comparison, each study experiment) returns Sections; the report
writer only lays them out, so a section's numbers and its text come from one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Section:
    """``key`` names the section in metrics.json; ``figures`` are paths relative to the report dir."""

    key: str
    title: str
    markdown: str
    metrics: dict[str, Any] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)

"""Lays study sections out as DIR/index.md + DIR/metrics.json (+ the PNGs already under DIR).

Each section's markdown embeds its own figures by their paths relative to DIR, so the
same Section can be merged into the main report (``regae report``) unchanged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from regae.analysis.section import Section
from regae.errors import OutputError


def fmt(value: float, digits: int = 2) -> str:
    """A number for a table: ``digits`` decimals from 1 up, 4 below, scientific under 1e-3; ∞ / n/a spelled out."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if isinstance(value, int):
        return f"{value:,}"
    if value == 0 or abs(value) >= 1:
        return f"{value:.{digits}f}"
    return f"{value:.4f}" if abs(value) >= 1e-3 else f"{value:.2e}"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A markdown table; floats through :func:`fmt`."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(fmt(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)
                                       for v in row) + " |")
    return "\n".join(lines)


def figure(rel: Path, caption: str) -> str:
    return f"![{caption}]({rel.as_posix()})"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return value


def write_sections(sections: Sequence[Section], out: Path, title: str = "regae study",
                   preface: str = "", order: Sequence[str] = ()) -> Path:
    """Write ``out/index.md``, ``out/metrics.json`` (``{section.key: section.metrics}``) and
    ``out/sections.json`` (every section's title, markdown and figures).

    Sections already in ``out`` from earlier runs are kept (a key written again replaces its old
    section), so experiments run one by one into the same folder accumulate into one report;
    ``order`` lists keys in the order the index shows them (others follow). Non-finite numbers
    are stored as the strings "inf" / "-inf" / "nan" (JSON has no infinity). Returns the index path.
    """
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        metrics_path, manifest_path = out / "metrics.json", out / "sections.json"
        metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        for s in sections:
            missing = [str(f) for f in s.figures if not (out / f).is_file()]
            if missing:
                raise OutputError(f"section {s.key!r} names figures that were not written: {missing}")
            metrics[s.key] = _jsonable(s.metrics)
            manifest[s.key] = {"title": s.title, "markdown": s.markdown, "figures": [Path(f).as_posix() for f in s.figures]}
        keys = [k for k in order if k in manifest] + [k for k in manifest if k not in order]
        metrics_path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
        parts = [f"# {title}", preface] if preface else [f"# {title}"]
        parts += ["## Contents", "\n".join(f"- [{manifest[k]['title']}](#{k})" for k in keys)]
        for k in keys:
            parts.append(f'<a id="{k}"></a>\n\n## {manifest[k]["title"]}\n\n{manifest[k]["markdown"].strip()}')
        index = out / "index.md"
        index.write_text("\n\n".join(parts) + "\n")
    except (OSError, json.JSONDecodeError) as exc:
        raise OutputError(f"cannot write the study to {out}: {exc}") from None
    return index


def load_sections(out: Path) -> list[Section]:
    """The sections stored in ``out/sections.json`` + ``out/metrics.json``, as Section objects."""
    out = Path(out)
    manifest = json.loads((out / "sections.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    return [Section(k, v["title"], v["markdown"], metrics.get(k, {}), [Path(f) for f in v["figures"]])
            for k, v in manifest.items()]

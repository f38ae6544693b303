"""The one report writer: sections -> ``index.md`` + ``metrics.json`` (+ ``index.html``), atomically.

``regae report``/``compare``, ``regae study`` and the reproductions all write through
:func:`write_report`, so every report has the same files and the same JSON rules
(:func:`regae.checkpoints.write.json_safe`: +inf as ``"inf"``, NaN as ``null``). Each section's
markdown embeds its own figures by paths relative to the report folder.

``metrics.json`` is ``{"report": meta, <section key>: <section metrics>, ...}`` (``"report"`` only
when ``meta`` is given). With ``merge=True`` the sections already in the folder (kept in
``sections.json``) stay and a key written again replaces its old section, so experiments run one
by one into the same folder accumulate into one report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from regae.checkpoints.write import atomic_write_json, atomic_write_text
from regae.errors import OutputError
from regae.reports.html import to_html
from regae.reports.section import Section

MANIFEST = "sections.json"


def render(title: str, intro: str, sections: Sequence[Section], contents: bool = False) -> str:
    """The index.md text: title, intro, then the sections in order (numbered, or with a list of contents
    and anchors when ``contents``)."""
    parts = [f"# {title}"] + ([intro.strip()] if intro.strip() else [])
    if contents:
        parts += ["## Contents", "\n".join(f"- [{s.title}](#{s.key})" for s in sections)]
        parts += [f'<a id="{s.key}"></a>\n\n## {s.title}\n\n{s.markdown.strip()}' for s in sections]
    else:
        parts += [f"## {i}. {s.title}\n\n{s.markdown.strip()}" for i, s in enumerate(sections, 1)]
    return "\n\n".join(parts) + "\n"


def load_sections(out: Path) -> list[Section]:
    """The sections a ``merge=True`` report in ``out`` holds (``sections.json`` + ``metrics.json``)."""
    out = Path(out)
    try:
        manifest = json.loads((out / MANIFEST).read_text())
        metrics = json.loads((out / "metrics.json").read_text())
    except FileNotFoundError:
        return []
    except (OSError, json.JSONDecodeError) as exc:
        raise OutputError(f"cannot read the report in {out}: {exc}") from None
    return [Section(k, v["title"], v["markdown"], metrics.get(k, {}), [Path(f) for f in v["figures"]])
            for k, v in manifest.items()]


def write_report(out: str | Path, sections: Sequence[Section], title: str, intro: str = "",
                 meta: dict[str, Any] | None = None, *, merge: bool = False, order: Sequence[str] = (),
                 contents: bool = False, html: bool = True) -> Path:
    """Write the report in ``out`` (module docstring); returns the path of index.md.

    ``order`` lists section keys in the order index.md shows them (the others follow in the order
    given); a section that names a figure not written under ``out`` is an :class:`OutputError`.
    """
    out = Path(out)
    for s in sections:
        missing = [str(f) for f in s.figures if not (out / f).is_file()]
        if missing:
            raise OutputError(f"section {s.key!r} names figures that were not written: {missing}")
    by_key = {s.key: s for s in (load_sections(out) if merge else [])}
    by_key.update({s.key: s for s in sections})
    keys = [k for k in order if k in by_key] + [k for k in by_key if k not in order]
    ordered = [by_key[k] for k in keys]
    metrics = ({"report": meta} if meta is not None else {}) | {s.key: s.metrics for s in ordered}
    text = render(title, intro, ordered, contents)
    try:
        atomic_write_json(metrics, out / "metrics.json")
        if merge:
            atomic_write_json({s.key: {"title": s.title, "markdown": s.markdown,
                                       "figures": [Path(f).as_posix() for f in s.figures]} for s in ordered},
                              out / MANIFEST)
        atomic_write_text(text, out / "index.md")
        if html:
            atomic_write_text(to_html(text, title, out), out / "index.html")
    except OSError as exc:
        raise OutputError(f"cannot write the report to {out}: {exc.strerror or exc}") from None
    return out / "index.md"

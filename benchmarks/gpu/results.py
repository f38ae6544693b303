"""What the GPU check hands back: ``gpu-check.json`` (every figure) and ``gpu-check.md`` (one table).

A lent GPU returns only the files written under ``$OUT``, and a command past its limit is killed,
so :class:`Results` rewrites both files after every stage: a run cut short still returns every
stage it finished. Each figure is a :func:`row`: a number with its unit (never a placeholder: a
figure that could not be measured has no value and a note saying why), an optional target with
its PASS/FAIL, and the device named in the file's header. Torch-free, so the fast tests import it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from benchmarks.gpu.budget import verdict
from regae.checkpoints.write import atomic_write_json, atomic_write_text

STATUSES = ("done", "partial", "skipped", "failed")


def row(figure: str, value: float | int | None, unit: str, target: float | None = None, op: str = "<=",
        note: str = "") -> dict[str, Any]:
    """One figure: ``value`` in ``unit``, judged ``value op target`` when a target is given."""
    if value is not None and not isinstance(value, bool):
        value = float(value) if not isinstance(value, int) else value
        if isinstance(value, float) and not math.isfinite(value):
            note = f"{note}; value {value}" if note else f"value {value}"
            value = None
    if value is None and not note:
        raise ValueError(f"{figure}: a figure without a value needs a note saying why")
    return {"figure": figure, "value": value, "unit": unit,
            "target": None if target is None else f"{op} {format_value(target)} {unit}".rstrip(),
            "verdict": verdict(value, target, op), "note": note}


def format_value(value: float | int | None) -> str:
    """A number for a table cell: 4 significant digits, thousands separated, tiny ones in e-notation."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if value == 0:
        return "0"
    a = abs(value)
    if a >= 1000:
        return f"{value:,.0f}"
    if a >= 1e-3:
        return f"{value:.4g}"
    return f"{value:.2e}"


def cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(stages: dict[str, dict[str, Any]]) -> str:
    """All stages' rows as one markdown table; a stage without rows gets one line with its status."""
    lines = ["| stage | figure | value | target | verdict | note |", "| --- | --- | --- | --- | --- | --- |"]
    for name, stage in stages.items():
        if not stage["rows"]:
            why = stage.get("error") or stage.get("note") or ""
            lines.append(f"| {name} | ({stage['status']}) | — | — | {stage['status'].upper()} | {cell(why)} |")
        for r in stage["rows"]:
            value = f"{format_value(r['value'])} {r['unit']}".rstrip() if r["value"] is not None else "—"
            lines.append(f"| {name} | {cell(r['figure'])} | {cell(value)} | {cell(r['target'] or '—')} | "
                         f"{r['verdict']} | {cell(r['note'])} |")
    return "\n".join(lines)


def tally(stages: dict[str, dict[str, Any]]) -> str:
    """'targets: 3 PASS, 1 FAIL; stages: 11 done, 1 skipped' for the last line of the log."""
    verdicts = [r["verdict"] for s in stages.values() for r in s["rows"]]
    statuses = [s["status"] for s in stages.values()]
    targets = ", ".join(f"{verdicts.count(v)} {v}" for v in ("PASS", "FAIL") if v in verdicts) or "none judged"
    done = ", ".join(f"{statuses.count(s)} {s}" for s in STATUSES if s in statuses) or "none run"
    return f"targets: {targets}; stages: {done}"


class Results:
    """The check's results, rewritten into ``out`` (``gpu-check.json``, ``gpu-check.md``) after each stage."""

    def __init__(self, out: Path, meta: dict[str, Any]) -> None:
        self.out, self.meta = Path(out), dict(meta)
        self.stages: dict[str, dict[str, Any]] = {}

    def record(self, name: str, title: str, status: str, seconds: float, rows: list[dict[str, Any]],
               error: str = "", note: str = "") -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        self.stages[name] = {"title": title, "status": status, "seconds": round(seconds, 2), "rows": rows,
                             "error": error, "note": note}
        self.write()

    def header(self) -> str:
        m = self.meta
        return (f"# regae GPU check\n\n"
                f"Device: **{m.get('device', '?')}**; torch {m.get('torch', '?')}, CUDA {m.get('cuda') or 'none'}, "
                f"driver {m.get('driver') or 'none'}, Python {m.get('python', '?')}; {m.get('date', '?')}.\n"
                f"Budget {format_value(m.get('budget_s'))} s, used {format_value(m.get('used_s'))} s"
                f"{'; dry run (--quick): tiny sizes, figures not comparable' if m.get('quick') else ''}.\n")

    def markdown(self) -> str:
        return f"{self.header()}\n{markdown_table(self.stages)}\n\n{tally(self.stages)}\n"

    def write(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_json({"meta": self.meta, "stages": self.stages}, self.out / "gpu-check.json")
        atomic_write_text(self.markdown(), self.out / "gpu-check.md")

"""``regae check-rerun PUBLISHED RERUN``: does a rerun reproduce a published report within its intervals?

Both arguments are report folders (or their ``metrics.json``). Every figure the published report
gives an interval for is set beside the rerun's value:

- each AE's test PSNR (an interval only with several training seeds: one seed has none, and the
  row says so);
- the paired PSNR difference between two AEs, and the interpolation one (bootstrap intervals);
- each feature set's accuracy per classifier (Wilson or seed intervals);
- each paired accuracy difference (AE vs AE, AE vs baseline).

A figure is reproduced when the rerun's value lies inside the published 95 % interval. The intervals
of a one-seed report are over test images: they hold the test-set sampling error, not the variation
between training runs, so a rerun on other hardware (another order of floating-point sums) may fall
just outside them; with ``--seeds N`` the intervals include it. Exit status 0 when every figure with
an interval is reproduced, 1 otherwise, 2 for unreadable or mismatched reports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from regae.errors import RegaeError
from regae.reports.tables import md_table

Row = dict[str, Any]


def read_metrics(path: str | Path) -> dict[str, Any]:
    """The metrics.json of a report folder (or the file itself)."""
    path = Path(path)
    file = path / "metrics.json" if path.is_dir() else path
    try:
        return json.loads(file.read_text())
    except FileNotFoundError:
        raise RegaeError(f"no report metrics at {file} (give a report folder or its metrics.json)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RegaeError(f"{file} is not a report's metrics.json: {exc}") from None


def _row(figure: str, published: float, rerun: float, low: float | None, high: float | None, scale: float = 1.0,
         unit: str = "") -> Row:
    inside = None if low is None or high is None else bool(low <= rerun <= high)
    return {"figure": figure, "unit": unit, "published": scale * published, "rerun": scale * rerun,
            "ci_low": None if low is None else scale * low, "ci_high": None if high is None else scale * high,
            "inside": inside}


def _find(items: list[dict], keys: tuple[str, ...], like: dict, where: str) -> dict:
    for item in items:
        if all(item[k] == like[k] for k in keys):
            return item
    raise RegaeError(f"the rerun's {where} has no {' / '.join(str(like[k]) for k in keys)}: "
                     "the two reports compare different models or baselines")


def compare_metrics(published: dict[str, Any], rerun: dict[str, Any]) -> list[Row]:
    """One row per published figure: its value, the rerun's, the published interval, inside or not."""
    try:
        rows: list[Row] = []
        for name, m in published["overview"].items():
            if name == "comparisons":
                continue
            if name not in rerun["overview"]:
                raise RegaeError(f"the rerun has no AE named {name!r}: the two reports compare different models")
            seeds = m["test_psnr_db_interval_over_seeds"]
            rows.append(_row(f"{name}: test PSNR", m["test_psnr_db"], rerun["overview"][name]["test_psnr_db"],
                             seeds.get("ci_low"), seeds.get("ci_high"), unit="dB"))
        for section, label in (("overview", "test PSNR"), ("interpolation", "interpolation PSNR")):
            for c in published[section].get("comparisons", []):
                r = _find(rerun[section].get("comparisons", []), ("a", "b"), c, section)
                rows.append(_row(f"{c['a']} − {c['b']}: {label}", c["estimate"], r["estimate"], c["ci_low"],
                                 c["ci_high"], unit="dB"))
        cls = published.get("classification")
        if cls:
            for feat, per in cls["accuracy"].items():
                for clf, s in per.items():
                    r = rerun["classification"]["accuracy"].get(feat, {}).get(clf)
                    if r is None:
                        raise RegaeError(f"the rerun has no {clf} accuracy for {feat!r}")
                    rows.append(_row(f"{feat}: {clf} accuracy", s["accuracy"], r["accuracy"], s["ci_low"],
                                     s["ci_high"], 100.0, "%"))
            for c in cls["comparisons"]:
                r = _find(rerun["classification"]["comparisons"], ("a", "b", "classifier"), c, "classification")
                rows.append(_row(f"{c['a']} − {c['b']}: {c['classifier']}", c["diff_points"], r["diff_points"],
                                 c["ci_low_points"], c["ci_high_points"], unit="points"))
        return rows
    except KeyError as exc:
        raise RegaeError(f"a report's metrics.json lacks {exc}: was it written by `regae report`?") from None


def rows_text(rows: list[Row]) -> str:
    """A markdown table of the rows and a closing count."""
    def num(x: float | None) -> str:
        return "—" if x is None else f"{x:.2f}"

    table = md_table(
        ["figure", "unit", "published", "rerun", "rerun − published", "published 95 % interval", "reproduced"],
        [[r["figure"], r["unit"], num(r["published"]), num(r["rerun"]), f"{r['rerun'] - r['published']:+.2f}",
          "none (one seed)" if r["inside"] is None else f"[{num(r['ci_low'])}, {num(r['ci_high'])}]",
          {None: "—", True: "yes", False: "**no**"}[r["inside"]]] for r in rows])
    checked = [r for r in rows if r["inside"] is not None]
    held = sum(r["inside"] for r in checked)
    return f"{table}\n\n{held} of {len(checked)} figures with an interval reproduced within it."

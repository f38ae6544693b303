"""regae.reports.writer: the one report writer (index.md, metrics.json, index.html), accumulation, honest infinities."""


import json
import math

import pytest

from regae.errors import OutputError
from regae.reports.section import Section
from regae.reports.tables import fmt_number, number_table
from regae.reports.writer import load_sections, write_report


def make_fig(out, rel):
    (out / rel).parent.mkdir(parents=True, exist_ok=True)
    (out / rel).write_bytes(b"\x89PNG")
    return rel



def test_writes_index_and_metrics(tmp_path):
    from pathlib import Path

    rel = make_fig(tmp_path, Path("figures/a/x.png"))
    a = Section("study_a", "A", "text A ![x](figures/a/x.png)", {"psnr": 20.5, "alpha0": math.inf}, [rel])
    index = write_report(tmp_path, [a], "regae study", merge=True, contents=True, order=["study_b", "study_a"])
    text = index.read_text()
    assert "## A" in text and "text A" in text and "(#study_a)" in text
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics == {"study_a": {"psnr": 20.5, "alpha0": "inf"}}
    # a second run into the same folder adds its section; the order list puts b first
    b = Section("study_b", "B", "text B", {"n": 3})
    write_report(tmp_path, [b], "regae study", merge=True, contents=True, order=["study_b", "study_a"])
    text = (tmp_path / "index.md").read_text()
    assert text.index("## B") < text.index("## A")
    assert set(json.loads((tmp_path / "metrics.json").read_text())) == {"study_a", "study_b"}
    loaded = {s.key: s for s in load_sections(tmp_path)}
    assert loaded["study_a"].figures == [rel] and loaded["study_b"].metrics == {"n": 3}
    # rewriting a key replaces it
    write_report(tmp_path, [Section("study_a", "A2", "new", {})], "regae study", merge=True, contents=True)
    assert "## A2" in (tmp_path / "index.md").read_text() and "text A" not in (tmp_path / "index.md").read_text()



def test_missing_figure_is_an_output_error(tmp_path):
    from pathlib import Path

    with pytest.raises(OutputError, match="not written"):
        write_report(tmp_path, [Section("k", "K", "", {}, [Path("figures/none.png")])], "t")



def test_unwritable_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write the report"):
        write_report(blocker / "sub", [Section("k", "K", "", {})], "t")



def test_nan_and_inf_are_written_the_same_by_every_report(tmp_path):
    # one rule for `regae report`, `regae study` and reproductions: +inf -> "inf", NaN -> null, strict JSON
    write_report(tmp_path, [Section("k", "K", "", {"a": math.inf, "b": -math.inf, "c": math.nan})], "t")
    text = (tmp_path / "metrics.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"k": {"a": "inf", "b": "-inf", "c": None}}



def test_fmt_number_and_number_table():
    assert fmt_number(math.inf) == "∞" and fmt_number(-math.inf) == "−∞" and fmt_number(math.nan) == "n/a"
    assert fmt_number(12345) == "12,345" and fmt_number(17.644) == "17.64"
    assert fmt_number(0.02345) == "0.0234" and fmt_number(4e-6) == "4.00e-06"
    assert number_table(["a", "b"], [["x", 1.5]]).splitlines() == ["| a | b |", "| --- | --- |", "| x | 1.50 |"]

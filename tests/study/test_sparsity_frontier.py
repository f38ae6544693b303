"""The sparsity frontier: the matched-L0 Pareto test on known numbers, and a tiny end-to-end run."""

import json

import numpy as np
import pytest

from regae.cli import main
from regae.study.experiments.sparsity_frontier import METHODS, pareto


def point(label, l0, sq_err, correct):
    return {"label": label, "seeds": [{"l0": l0, "sq_err": np.asarray(sq_err, float), "correct": np.asarray(correct)}]}


def test_topk_better_on_both_at_matched_l0_is_a_pareto_improvement():
    rng = np.random.default_rng(0)
    n = 2000
    base = rng.uniform(0.01, 0.02, n)
    var = np.full(n, 0.1)
    l1_correct = rng.random(n) < 0.90
    topk_correct = l1_correct | (rng.random(n) < 0.5)  # strictly more right on the same images
    points = {"TopK": [point("TopK K=25", 25.0, base * 0.8, topk_correct),  # 20 % less error
                       point("TopK K=50", 50.0, base, l1_correct)],
              "L1": [point("L1 a", 27.0, base, l1_correct), point("L1 b", 80.0, base, l1_correct)]}
    better, same = pareto(points, var)
    assert better["matched"] and better["l1"] == "L1 a"
    assert better["fvu"]["estimate"] == pytest.approx(-0.2 * base.mean() / 0.1, rel=1e-9)
    assert better["accuracy"]["diff_points"] > 0 and better["pareto_better"] and not better["worse_on_one"]
    # K=50: nearest L1 point is L0 27 (46 % away), outside the ±25 % window: not compared.
    assert not same["matched"] and same["l1"] is None


def test_equal_codes_are_not_called_better():
    n = 1000
    err = np.linspace(0.01, 0.02, n)
    correct = np.arange(n) % 10 != 0
    points = {"TopK": [point("T", 30.0, err, correct)], "L1": [point("L", 31.0, err, correct)]}
    (c,) = pareto(points, np.full(n, 0.1))
    assert c["method"] == "TopK" and c["matched"] and c["fvu"]["estimate"] == 0 and not c["pareto_better"] and not c["worse_on_one"]


@pytest.mark.slow
def test_tiny_frontier_run_writes_every_point_and_topk_codes_keep_at_most_k_units(tmp_path):
    out = tmp_path / "study"
    assert main(["study", "sparsity-frontier", "--budget", "tiny", "--out", str(out), "--cache", str(tmp_path / "c")]) == 0
    m = json.loads((out / "metrics.json").read_text())["study_sparsity-frontier"]
    assert set(m["points"]) == set(METHODS)
    assert all(len(m["points"][k]) == 2 for k in ("KL", "L1", "decoder-norm L1"))  # tiny: the first two weights
    ks = sorted({max(1, round(p["l0"])) for p in m["points"]["L1"]})  # TopK/BatchTopK trained at the L1 points' L0
    assert [p["value"] for p in m["points"]["TopK"]] == [p["value"] for p in m["points"]["BatchTopK"]] == ks
    for p in m["points"]["TopK"]:
        assert 0 < p["l0"] <= p["value"] + 1e-9
        assert np.isfinite(p["fvu"]) and p["fvu"] > 0 and 0.1 < p["accuracy"] <= 1  # 4 steps: FVU can exceed 1
    assert [p["value"] for p in m["points"]["TopK + AuxK"]] == ks
    assert m["verdict"].startswith("TopK: ") and "TopK + AuxK: " in m["verdict"]
    assert {c["method"] for c in m["pareto_topk_vs_l1"]} == {"TopK", "TopK + AuxK"}
    assert (out / "figures/study_sparsity-frontier/l0-fvu.png").stat().st_size > 10_000
    assert "Is TopK a Pareto improvement over L1 here?" in (out / "index.md").read_text()

"""regae check-rerun: a rerun's figures set beside the published intervals (regae.analysis.rerun)."""

import copy
import json

import pytest

from regae.analysis.rerun import compare_metrics
from regae.cli import main
from regae.errors import RegaeError


def _acc(a, lo, hi):
    return {"accuracy": a, "ci_low": lo, "ci_high": hi}


def _cmp(a, b, est, lo, hi, **extra):
    return {"a": a, "b": b, "estimate": est, "ci_low": lo, "ci_high": hi, **extra}


PUBLISHED = {
    "overview": {
        "sparse": {"test_psnr_db": 21.0, "test_psnr_db_interval_over_seeds": {"ci_low": None, "ci_high": None}},
        "contractive": {"test_psnr_db": 21.5,
                        "test_psnr_db_interval_over_seeds": {"ci_low": 21.2, "ci_high": 21.8}},
        "comparisons": [_cmp("sparse", "contractive", -0.5, -0.6, -0.4)],
    },
    "interpolation": {"comparisons": [_cmp("sparse", "contractive", 0.7, 0.2, 1.2)]},
    "classification": {
        "accuracy": {"sparse": {"5-NN": _acc(0.977, 0.974, 0.980)}, "raw pixels": {"5-NN": _acc(0.969, 0.965, 0.972)}},
        "comparisons": [{"a": "sparse", "b": "raw pixels", "classifier": "5-NN", "diff_points": 0.8,
                         "ci_low_points": 0.5, "ci_high_points": 1.1}],
    },
}


def _rows_by_figure(rerun):
    return {r["figure"]: r for r in compare_metrics(PUBLISHED, rerun)}


def test_identical_reports_reproduce_every_figure():
    rows = _rows_by_figure(copy.deepcopy(PUBLISHED))
    assert len(rows) == 7
    assert rows["sparse: test PSNR"]["inside"] is None  # one seed: no interval to fall in
    assert all(r["inside"] for f, r in rows.items() if f != "sparse: test PSNR")
    acc = rows["sparse: 5-NN accuracy"]  # accuracies in percent
    assert (acc["published"], acc["ci_low"], acc["ci_high"]) == pytest.approx((97.7, 97.4, 98.0))


def test_a_figure_outside_its_interval_is_flagged_alone():
    rerun = copy.deepcopy(PUBLISHED)
    rerun["classification"]["accuracy"]["sparse"]["5-NN"]["accuracy"] = 0.9805  # above 0.980
    rerun["overview"]["contractive"]["test_psnr_db"] = 21.8  # on the interval's edge: inside
    rerun["overview"]["sparse"]["test_psnr_db"] = 25.0  # no interval: never flagged
    rows = _rows_by_figure(rerun)
    assert [f for f, r in rows.items() if r["inside"] is False] == ["sparse: 5-NN accuracy"]
    assert rows["sparse: 5-NN accuracy"]["rerun"] - rows["sparse: 5-NN accuracy"]["published"] == pytest.approx(0.35)


def test_reports_of_different_models_are_refused():
    rerun = copy.deepcopy(PUBLISHED)
    rerun["overview"]["denoising"] = rerun["overview"].pop("sparse")
    with pytest.raises(RegaeError, match="no AE named 'sparse'"):
        compare_metrics(PUBLISHED, rerun)
    rerun = copy.deepcopy(PUBLISHED)
    rerun["classification"]["comparisons"][0]["b"] = "PCA-32 of pixels"
    with pytest.raises(RegaeError, match="sparse / raw pixels / 5-NN"):
        compare_metrics(PUBLISHED, rerun)


def test_command_exit_status_and_one_line_errors(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "metrics.json").write_text(json.dumps(PUBLISHED))
    assert main(["check-rerun", str(tmp_path / "a"), str(tmp_path / "a" / "metrics.json")]) == 0
    out = capsys.readouterr().out
    assert "6 of 6 figures with an interval reproduced within it." in out and "none (one seed)" in out
    moved = copy.deepcopy(PUBLISHED)
    moved["interpolation"]["comparisons"][0]["estimate"] = 0.1
    (tmp_path / "b.json").write_text(json.dumps(moved))
    assert main(["check-rerun", str(tmp_path / "a"), str(tmp_path / "b.json")]) == 1
    assert "5 of 6 figures" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text("{not json")
    for args, message in ((["check-rerun", str(tmp_path / "a")], "required: rerun"),
                          (["check-rerun", str(tmp_path / "a"), str(tmp_path / "none")], "no report metrics at"),
                          (["check-rerun", str(tmp_path / "a"), str(tmp_path / "bad.json")], "is not a report's metrics.json"),
                          (["check-rerun", str(tmp_path / "a"), str(tmp_path / "a"), "--x"], "unrecognized arguments")):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1

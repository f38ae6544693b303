import json
import re

import pytest
import torch

from regae.analysis.options import ReportConfig, parse_ckpt_args
from regae.analysis.overview import fmt_psnr
from regae.analysis.probe import fmt_acc
from regae.analysis.report import build_report
from regae.cli import main
from regae.reports.stats import fmt_p
from regae.reports.tables import fmt, fmt_mean_std, parse_md_tables


@pytest.fixture(scope="module")
def report(ckpts, sparse_seed1, tmp_path_factory):
    """sparse with two training seeds, contractive with one: both paths of the statistics."""
    out = tmp_path_factory.mktemp("report")
    cfg = ReportConfig(n_tsne=300, n_pairs=20, n_probe_train=1000, n_reg=128, seed=0)
    build_report({"sparse": [ckpts["sparse"], sparse_seed1], "contractive": ckpts["contractive"]}, out, cfg)
    md = (out / "index.md").read_text()
    metrics = json.loads((out / "metrics.json").read_text())
    return out, md, metrics


def _table_after(md: str, heading: str) -> list[list[str]]:
    return parse_md_tables(md[md.index(heading):])[0]


def _unjson(x):
    return float(x) if x in ("inf", "-inf") else x


def test_files_written_and_figures_referenced(report):
    out, md, _ = report
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert {"tsne.png", "loss_curves.png", "interpolation_curves.png", "reconstructions.png"} <= set(figures)
    assert sum(f.startswith("interpolation_") and f[-6:-4] in ("_1", "_2") for f in figures) == 4  # 2 AEs x 2 pages
    for f in figures:
        assert (out / f).stat().st_size > 5000
    html = (out / "index.html").read_text()
    assert html.count("data:image/png;base64,") == len(figures) and "<table>" in html


def test_interpolation_tables_match_metrics(report):
    _, md, metrics = report
    interp = metrics["interpolation"]
    assert len(interp["pairs"]) == 20 and all(p["label_1"] != p["label_2"] for p in interp["pairs"])
    for title, key, digits in (("**PSNR(Î_α, Î'_α) in dB**", "psnr_db", 2), ("**‖h_α − h'_α‖₂**", "latent_dist", 3)):
        table = _table_after(md, title)
        assert table[0] == ["α", "sparse", "contractive"]
        for row, alpha in zip(table[1:], interp["alphas"], strict=True):
            assert float(row[0]) == alpha
            for cell, name in zip(row[1:], ["sparse", "contractive"]):
                k = interp["alphas"].index(alpha)
                stats = {k2: _unjson(v) for k2, v in interp["models"][name]["per_alpha"][k][key].items()}
                assert cell == fmt_mean_std(stats, digits)
    for name in ("sparse", "contractive"):
        psnr = interp["models"][name]["psnr_db_per_pair"]
        assert all(p[0] == "inf" and p[-1] == "inf" for p in psnr)  # explicit, not a fake number
        assert _table_after(md, "**PSNR")[1][1] == "∞" and _table_after(md, "**PSNR")[-1][2] == "∞"
        mid = torch.tensor([p[2] for p in psnr], dtype=torch.float64)
        assert interp["models"][name]["per_alpha"][2]["psnr_db"]["mean"] == pytest.approx(mid.mean().item())


def test_classification_and_overview_tables_match_metrics(report):
    _, md, metrics = report
    cls = metrics["classification"]
    acc = cls["accuracy"]
    table = _table_after(md, "| features |")
    assert table[0] == ["features", "dim", "seeds", "logistic regression accuracy [95 % CI]", "5-NN accuracy [95 % CI]"]
    assert [r[0] for r in table[1:]] == ["sparse", "contractive", "raw pixels", "PCA-16 of pixels"]
    assert [r[2] for r in table[1:]] == ["2", "1", "1", "1"]
    for row in table[1:]:
        assert row[3:] == [fmt_acc(acc[row[0]]["logistic regression"]), fmt_acc(acc[row[0]]["5-NN"])]
        for clf in ("logistic regression", "5-NN"):
            a = acc[row[0]][clf]
            assert a["ci_low"] < a["accuracy"] < a["ci_high"] and a["n_test"] == 10_000
    assert len(acc["sparse"]["5-NN"]["per_seed"]) == 2 and acc["sparse"]["5-NN"]["std_over_seeds"] is not None
    assert min(a["accuracy"] for a in acc["raw pixels"].values()) > 0.8 and acc["sparse"]["5-NN"]["accuracy"] > 0.3  # chance 0.1
    cmp = {(c["a"], c["b"], c["classifier"]): c for c in cls["comparisons"]}
    assert len(cmp) == 10  # sparse-contractive, each vs pixels, each vs PCA-16; two classifiers
    assert cmp[("sparse", "contractive", "5-NN")]["test"].startswith("paired bootstrap")  # 2 seeds vs 1
    assert cmp[("contractive", "raw pixels", "5-NN")]["test"] == "exact McNemar"
    rows = _table_after(md, "| A vs B |")
    for row in rows[1:]:
        a, b = row[0].split(" vs ")
        c = cmp[(a, b, row[1])]
        assert row[2] == f"{c['diff_points']:+.2f}" and row[4] == fmt_p(c["p"], c["n_boot"])
        assert c["ci_low_points"] <= c["diff_points"] <= c["ci_high_points"]
    for clf in ("logistic regression", "5-NN"):
        assert cmp[("sparse", "contractive", clf)]["sentence"] in md
    overview = _table_after(md, "| AE | trained with |")
    for row in overview[1:]:
        m = metrics["overview"][row[0]]
        assert row[2] == fmt_psnr(m["test_psnr_db_per_seed"])
        assert row[6] == fmt(m["regularizers_on_test"]["contractive_jacobian_fro2"], 3)
        assert 10 < m["test_psnr_db"] < 30
        assert m["test_psnr_db"] == pytest.approx(sum(m["test_psnr_db_per_seed"]) / m["seeds"])
    assert "(2 seeds)" in overview[1][2] and metrics["overview"]["sparse"]["seeds"] == 2
    one = metrics["overview"]["contractive"]
    assert one["test_psnr_db"] == pytest.approx(10 * torch.log10(torch.tensor(1 / one["test_mse"])).item(), abs=1e-3)
    psnr_cmp = metrics["overview"]["comparisons"][0]
    assert (psnr_cmp["a"], psnr_cmp["b"]) == ("sparse", "contractive") and psnr_cmp["sentence"] in md
    assert psnr_cmp["estimate"] == pytest.approx(metrics["overview"]["sparse"]["test_psnr_db"] - one["test_psnr_db"])
    assert metrics["overview"]["contractive"]["regularizers_on_test"]["kl_rho_0.05"] is None  # linear latent
    models = metrics["models"]
    assert [m["global_step"] for m in models["sparse"]] == [80, 80] and models["sparse"][0]["batch_size"] == 64
    assert [m["seed"] for m in models["sparse"]] == [0, 1]
    summary = md[md.index("## 1. Summary"):md.index("## 2.")]
    assert summary.count("no significant difference") + summary.count("is better than") == 1 + 10 + 1


def test_ckpt_names():
    got = parse_ckpt_args(["runs/sparse/checkpoints/last.ckpt", "b=x/y.ckpt", "z/y.ckpt", "w/y.ckpt", "b=x/z.ckpt"])
    assert list(got) == ["sparse", "b", "y", "y-2"]
    assert [str(p) for p in got["b"]] == ["x/y.ckpt", "x/z.ckpt"]  # one NAME twice: two seeds of one AE


def _run(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def test_not_a_regae_checkpoint(tmp_path, capsys):
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}, "epoch": 1}, foreign)
    text = tmp_path / "notes.ckpt"
    text.write_text("hello")
    for bad, msg in ((foreign, "not a regae checkpoint"), (text, "corrupt or"),
                     (tmp_path / "missing.ckpt", "checkpoint not found")):
        code, err = _run(["report", "--ckpt", str(bad), "--out", str(tmp_path / "r")], capsys)
        assert code == 2 and len(err) == 1 and msg in err[0] and str(bad) in err[0], err


def test_unwritable_output_dir(ckpts, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, err = _run(["report", "--ckpt", ckpts["sparse"], "--out", str(blocker / "report")], capsys)
    assert code == 2 and len(err) == 1 and "cannot write the report to" in err[0], err


def test_compare_needs_two_checkpoints(ckpts, tmp_path, capsys):
    code, err = _run(["compare", "--ckpt", ckpts["sparse"], "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and len(err) == 1
    assert "needs at least two checkpoints to compare, got 1" in err[0] and "regae report --ckpt" in err[0]


def test_usage_errors_are_one_line(tmp_path, capsys):
    code, err = _run(["report", "--out", str(tmp_path)], capsys)
    assert code == 2 and len(err) == 1 and "--ckpt" in err[0]
    code, err = _run(["report", "--ckpt", "x.ckpt", "--pairs", "0"], capsys)
    assert code == 2 and len(err) == 1 and "n_pairs" in err[0]


def test_check_rerun_reads_a_real_report(report):
    """regae check-rerun on a report's own metrics: every figure it has an interval for reproduces."""
    from regae.analysis.rerun import compare_metrics

    _, _, metrics = report
    rows = {r["figure"]: r for r in compare_metrics(metrics, metrics)}
    assert rows["sparse: test PSNR"]["inside"] is True  # two training seeds: an interval over seeds
    assert rows["contractive: test PSNR"]["inside"] is None  # one seed: none
    n_features = len(metrics["classification"]["accuracy"])
    assert sum(f.endswith(" accuracy") for f in rows) == 2 * n_features
    assert all(r["inside"] is not False for r in rows.values())

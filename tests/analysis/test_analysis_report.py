import json
import re

import pytest
import torch

from regae.analysis.report import ReportConfig, build_report, parse_ckpt_args
from regae.analysis.tables import fmt, fmt_mean_std, parse_md_tables, pct
from regae.cli import main


@pytest.fixture(scope="module")
def report(ckpts, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    cfg = ReportConfig(n_tsne=300, n_pairs=20, n_probe_train=1000, n_reg=128, seed=0)
    build_report(ckpts, out, cfg)
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
    acc = metrics["classification"]["accuracy"]
    table = _table_after(md, "| features |")
    assert table[0] == ["features", "dim", "logistic regression", "5-NN"]
    assert [r[0] for r in table[1:]] == ["sparse", "contractive", "raw pixels", "PCA-16 of pixels"]
    for row in table[1:]:
        assert row[2:] == [pct(acc[row[0]]["logistic regression"]), pct(acc[row[0]]["5-NN"])]
    assert min(acc["raw pixels"].values()) > 0.8 and max(acc["sparse"].values()) > 0.5  # chance ~10 %
    best = metrics["classification"]["comparison"]["logistic regression"]
    assert f"**{best['best']}** is better than {best['runner_up']} by {best['gap_points']:.2f}" in md
    overview = _table_after(md, "| AE | trained with |")
    for row in overview[1:]:
        m = metrics["overview"][row[0]]
        assert row[2] == fmt(m["test_psnr_db"]) and row[6] == fmt(m["regularizers_on_test"]["contractive_jacobian_fro2"], 3)
        assert 10 < m["test_psnr_db"] < 30
        assert m["test_psnr_db"] == pytest.approx(10 * torch.log10(torch.tensor(1 / m["test_mse"])).item(), abs=1e-3)
    assert metrics["overview"]["contractive"]["regularizers_on_test"]["kl_rho_0.05"] is None  # linear latent
    assert metrics["models"]["sparse"]["global_step"] == 80 and metrics["models"]["sparse"]["batch_size"] == 64


def test_ckpt_names():
    got = parse_ckpt_args(["runs/sparse/checkpoints/last.ckpt", "b=x/y.ckpt", "z/y.ckpt", "w/y.ckpt"])
    assert list(got) == ["sparse", "b", "y", "y-2"]


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

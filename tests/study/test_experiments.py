"""Properties the study's experiments rest on, each trained on a tiny budget, and end-to-end runs."""

import json
import re

import numpy as np
import pytest
import torch

import regae
from regae.cli import main
from regae.model.inference import encode, psnr, reconstruct
from regae.study.budgets import Level, Recipe
from regae.study.compare import short
from regae.study.experiments.denoising import noisy_test
from regae.study.experiments.sparse import sparsity_stats
from regae.study.registry import EXPERIMENTS, section_key
from regae.study.runner import StudyContext
from regae.study.specs import denoiser, overcomplete


def context(tmp_path, train_images=2000, epochs=2, test_images=500, **kwargs):
    level = Level("tiny", train_images=train_images, test_images=test_images, val_images=256)
    return StudyContext(level, tmp_path, log=kwargs.pop("log", lambda msg: None), **kwargs), \
        Recipe("test", epochs=(epochs, epochs, epochs), batch_size=64)


@pytest.mark.slow
def test_denoising_ae_beats_plain_ae_on_noisy_input(tmp_path):
    ctx, _ = context(tmp_path, train_images=4000)
    recipe = Recipe("dae-test", epochs=(4, 4, 4), batch_size=64, lr=3e-3)  # 250 steps: past the "mean image" phase
    x_test, _ = ctx.test_set()
    x_noisy = noisy_test(ctx, "gaussian:0.5")
    plain = ctx.fit("plain", recipe, **denoiser()).model
    dae = ctx.fit("dae", recipe, **denoiser("gaussian:0.5")).model
    p_plain, p_dae = float(psnr(reconstruct(plain, x_noisy), x_test)), float(psnr(reconstruct(dae, x_noisy), x_test))
    assert p_dae > p_plain + 0.3, (p_dae, p_plain)
    assert p_dae > float(psnr(x_noisy, x_test))


def test_l1_penalty_raises_fraction_of_near_zero_activations(tmp_path):
    ctx, recipe = context(tmp_path, train_images=1000, epochs=2)
    x_test, _ = ctx.test_set()
    plain = sparsity_stats(encode(ctx.fit("plain", recipe, **overcomplete()).model, x_test))
    sparse = sparsity_stats(encode(ctx.fit("l1", recipe, **overcomplete(l1=1e-3)).model, x_test))
    assert sparse["fraction_near_zero"] > plain["fraction_near_zero"] + 0.1, (sparse, plain)
    assert sparse["mean_l1_per_image"] < plain["mean_l1_per_image"]


@pytest.mark.slow
def test_kl_sparsity_pulls_mean_activation_towards_rho(tmp_path):
    ctx, recipe = context(tmp_path, train_images=1000, epochs=2)
    x_test, _ = ctx.test_set()
    plain = encode(ctx.fit("sigmoid", recipe, **dict(overcomplete(), latent_activation="sigmoid")).model, x_test)
    kl = encode(ctx.fit("kl", recipe, **overcomplete(kl=1e-3, rho=0.05)).model, x_test)
    assert abs(kl.mean().item() - 0.05) < abs(plain.mean().item() - 0.05)


def test_fit_is_memoised_reproducible_and_records_learning_curves(tmp_path):
    ctx, recipe = context(tmp_path, train_images=256, epochs=3)
    a = ctx.fit("a", recipe, **denoiser())
    assert ctx.fit("a again", recipe, **denoiser()) is a
    assert len(a.train_loss) == len(a.val_loss) == len(a.val_psnr) == 3 and a.steps == 3 * 4
    assert a.cpu_seconds > 0 and a.seconds > 0
    # the last validation PSNR is the model's pooled PSNR on the held-out images
    x_val, _ = ctx.val_set()
    assert len(x_val) == 256
    assert a.val_psnr[-1] == pytest.approx(float(psnr(reconstruct(a.model, x_val), x_val)), abs=1e-3)
    other, _ = context(tmp_path / "o", train_images=256, epochs=3)
    b = other.fit("b", recipe, **denoiser())
    x = ctx.test_set()[0][:16]
    assert torch.equal(reconstruct(a.model, x), reconstruct(b.model, x))
    assert a.val_psnr == b.val_psnr
    seeds = ctx.fit_seeds("s", Recipe("s", epochs=(1, 1, 1), seeds=(2, 2, 2), batch_size=64), **denoiser())
    assert [r.seed for r in seeds] == [0, 1]
    assert not torch.equal(reconstruct(seeds[0].model, x), reconstruct(seeds[1].model, x))


def test_cache_resumes_a_model_without_training(tmp_path):
    logs = []
    ctx, recipe = context(tmp_path, train_images=256, epochs=2, cache=tmp_path / "cache", log=logs.append)
    a = ctx.fit("a", recipe, **denoiser())
    assert len(list((tmp_path / "cache").glob("*.ckpt"))) == 1
    again, _ = context(tmp_path, train_images=256, epochs=2, cache=tmp_path / "cache", log=logs.append)
    b = again.fit("a", recipe, **denoiser())
    assert "from the cache" in logs[-1]
    x = ctx.test_set()[0][:16]
    assert torch.allclose(reconstruct(a.model, x), reconstruct(b.model, x))
    assert (b.val_psnr, b.train_loss, b.steps, b.cpu_seconds) == (a.val_psnr, a.train_loss, a.steps, a.cpu_seconds)
    # another budget is another model
    other, _ = context(tmp_path, train_images=256, epochs=1, cache=tmp_path / "cache", log=logs.append)
    other.fit("a", Recipe("test", epochs=(1, 1, 1), batch_size=64), **denoiser())
    assert "training a" in logs[-2] and "done in" in logs[-1] and len(list((tmp_path / "cache").glob("*.ckpt"))) == 2


def comparisons(tree, path=""):
    """Every dict with a 'verdict' and a 'p' in a metrics tree, with its path."""
    if isinstance(tree, dict):
        if "verdict" in tree and "p" in tree:
            yield path, tree
        for k, v in tree.items():
            yield from comparisons(v, f"{path}/{k}")
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from comparisons(v, f"{path}/{i}")


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    torch.set_num_threads(1)
    assert main(["study", "pca", "denoising", "--budget", "tiny", "--out", str(out)]) == 0
    return out, json.loads((out / "metrics.json").read_text()), (out / "index.md").read_text()


def test_index_numbers_equal_metrics(tiny_report):
    out, metrics, index = tiny_report
    pca = metrics["study_pca"]
    assert f"| PCA-30 | {pca['pca30']['test_mse']:.4f} |" in index
    assert f"{pca['ae30']['test_psnr']['mean']:.2f}" in index and f"{pca['pca30']['test_psnr']:.2f}" in index
    assert pca["ae_minus_pca_db"]["verdict"] in index
    den = metrics["study_denoising"]["levels"]
    for noise, m in den.items():
        d = m["dae_minus_standard_db"]
        assert f"| {noise} | {m['noisy_input_psnr']:.2f} |" in index
        assert f"{d['estimate']:+.2f} [{d['ci_low']:+.2f}, {d['ci_high']:+.2f}]" in index
        assert d["verdict"] in index
    # learning curves in metrics and as a figure in each section
    rec = pca["training"]["deep AE 784-1000-500-250-30"]
    assert len(rec["val_psnr_per_epoch"][0]) == 2 and rec["train_cpu_seconds"][0] > 0
    assert "figures/study_pca/learning-curves.png" in index and (out / "figures/study_denoising/learning-curves.png").is_file()
    runs = json.loads((out / "runs.json").read_text())
    assert runs[-1]["level"] == "tiny" and "study pca denoising --budget tiny" in runs[-1]["command"]
    assert re.search(r"This section: [0-9.]+ min wall, [0-9.]+ min CPU at a mean load average of", index)


def test_verdicts_follow_p(tiny_report):
    _, metrics, _ = tiny_report
    found = list(comparisons(metrics))
    assert len(found) >= 6
    for path, c in found:
        assert ("no significant difference" in c["verdict"]) == (c["p"] >= 0.05), (path, c["p"], c["verdict"])
        if c["p"] < 0.05 and "estimate" in c:
            assert (c["ci_low"] > 0) or (c["ci_high"] < 0) or np.isclose(c["p"], 0.05, atol=0.02), (path, c)


@pytest.mark.slow
def test_study_all_tiny_writes_every_section(tmp_path, fake_fashion):
    out = tmp_path / "study"
    assert main(["study", "all", "--budget", "tiny", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {section_key(n) for n in EXPERIMENTS}
    index = (out / "index.md").read_text()
    assert "tensor(" not in index  # every table cell is a formatted number, never a raw tensor
    table_rows = [ln for ln in index.splitlines() if ln.startswith("|")]
    assert table_rows and all(ln.endswith("|") for ln in table_rows)  # rows are whole, one line each
    sections = json.loads((out / "sections.json").read_text())
    for s in sections.values():
        assert f"## {s['title']}" in index
        for fig in s["figures"]:
            data = (out / fig).read_bytes()
            assert data[:4] == b"\x89PNG" and len(data) > 5000, fig
            assert f"]({fig})" in index
    for path, c in comparisons(metrics):
        assert c["verdict"] in index or short(c) in index, path  # whole sentence, or its head and p in a table
        assert ("no significant difference" in c["verdict"]) == (c["p"] >= 0.05), path
    assert metrics["study_pca"]["pca30"]["test_psnr"] > 15  # PCA-30 on MNIST: ~18 dB
    assert "Fashion-MNIST" in metrics["study_nondigits"]["inputs"]  # the generated stand-in (tests/conftest.py)
    assert metrics["study_vae"]["test_kl_nats"] >= 0 and metrics["study_vae"]["reloaded_matches"] is True
    vae = regae.load(out / metrics["study_vae"]["checkpoint"])
    assert vae.hparams.arch == "vae"
    acc = metrics["study_cnn"]["accuracy"]["raw test images"]
    assert acc["ci_low"] <= acc["accuracy"] <= acc["ci_high"]

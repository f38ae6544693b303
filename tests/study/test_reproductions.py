"""regae reproduce: the paper-vs-ours helpers, the Rifai table's layer figures on hand-made layers,
the command line, and (slow) the whole pipeline on the tiny budget."""

import json
import math

import pytest
import torch

from regae import AutoEncoder
from regae.study.reproductions import vincent2010
from regae.study.reproductions.published import agreement, figure_cell
from regae.study.reproductions.rifai2011 import PUBLISHED, layer_figures
from tests.support.helpers import run_cli


def test_agreement_within_tolerance_or_inside_the_interval():
    assert agreement(1.14, 1.30, (1.20, 1.40), 0.2)["holds"]  # 0.16 away
    far = agreement(1.14, 1.60, (1.50, 1.70), 0.2)
    assert not far["holds"] and far["text"].startswith("**no** (+0.46")
    wide = agreement(1.14, 1.60, (1.10, 2.10), 0.2)  # outside the tolerance, but the paper's value is in our interval
    assert wide["holds"] and wide["paper_in_interval"] and not wide["within_tolerance"]
    assert agreement(3.00, 2.95, None, 0.0)["holds"] is False


def test_figure_cell():
    assert figure_cell({"mean": 1.523, "std": 0.041, "ci_low": 1.41, "ci_high": 1.634}, "%") == "1.52 ± 0.04 % [1.41, 1.63]"
    assert figure_cell({"mean": 3.0, "std": None}, "") == "3.00"


def test_layer_figures_on_hand_made_layers():
    model = AutoEncoder(arch="mlp", widths=[], latent_dim=4, tied=True)
    w, b = model.net.encoder[1].weight, model.net.encoder[1].bias
    with torch.no_grad():  # h = sigmoid(0) = 1/2 for x = 0: ‖J‖²_F = Σ_j (1/4)² Σ_i W_ji²
        w.copy_(torch.arange(4 * 784, dtype=torch.float32).view(4, 784) / 1e4)
        b.zero_()
    zero = torch.zeros(3, 28, 28, dtype=torch.uint8)
    figures = layer_figures(model, zero)
    expected = math.sqrt((1 / 16) * float((w.detach() ** 2).sum()))
    assert figures["jacobian"] == pytest.approx([expected] * 3, rel=1e-6) and (figures["sat"] == 0).all()
    with torch.no_grad():  # saturated: h = sigmoid(±20) for every unit, so SAT = 1 and J ≈ 0
        w.zero_()
        b.copy_(torch.tensor([20.0, -20.0, 20.0, -20.0]))
    figures = layer_figures(model, zero)
    assert (figures["sat"] == 1).all() and (figures["jacobian"] == 0).all()
    with torch.no_grad():  # half the units at h = 0.5, half saturated: SAT = 1/2
        b.copy_(torch.tensor([0.0, 0.0, 20.0, -20.0]))
    assert (layer_figures(model, zero)["sat"] == 0.5).all()


def test_the_published_rows_are_the_papers_and_ordered_by_error():
    errors = [v[0] for v in PUBLISHED.rows.values()]
    assert list(PUBLISHED.rows) == ["CAE", "DAE-g", "DAE-b", "AE+wd", "AE"] and errors == sorted(errors)
    assert PUBLISHED.rows["CAE"] == (1.14, 0.73, 86.36) and PUBLISHED.rows["AE"] == (1.78, 17.5, 49.90)


def test_command_line_list_and_one_line_mistakes():
    code, out, _ = run_cli("reproduce", "--list")
    assert code == 0 and out.startswith("rifai2011 ")
    for argv, message in ((["reproduce"], "name a reproduction"), (["reproduce", "nope"], "unknown reproduction 'nope'"),
                          (["reproduce", "rifai2011", "--seeds", "0"], "--seeds >= 1"),
                          (["reproduce", "rifai2011", "--bogus"], "unrecognized arguments")):
        code, _, err = run_cli(*argv)
        assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, (argv, err)


@pytest.mark.slow
def test_rifai2011_quick_end_to_end_and_resumed_from_the_cache(tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    code, stdout, err = run_cli("reproduce", "rifai2011", "--quick", "--out", str(out), "--cache", str(cache))
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    table = metrics["rifai2011_table"]
    for row in PUBLISHED.rows:
        assert 0 <= table[row]["test_error"]["mean"] <= 100 and table[row]["jacobian_fro"]["mean"] > 0
        assert table[row]["paper"]["test_error"] == PUBLISHED.rows[row][0] and "holds" in table[row]["agrees"]
    orderings = metrics["rifai2011_orderings"]
    assert len(orderings["test_error"]) == 5 and len(orderings["jacobian"]) == 5
    assert all(0 <= r["p"] <= 1 for r in orderings["test_error"] + orderings["jacobian"])
    assert metrics["report"]["models"] > 5 and metrics["report"]["models_from_cache"] == 0
    index = (out / "index.md").read_text()
    assert "| CAE | λ = " in index and "Where this run differs from the paper" in index
    assert (out / "figures/rifai2011/curves.png").stat().st_size > 2000
    # the same command again: every model from the cache, the same table
    code, stdout, err = run_cli("reproduce", "rifai2011", "--quick", "--out", str(out), "--cache", str(cache))
    again = json.loads((out / "metrics.json").read_text())
    assert code == 0 and again["report"]["models_from_cache"] == again["report"]["models"]
    assert again["rifai2011_table"]["CAE"]["test_error"] == table["CAE"]["test_error"]


def test_hinton_squared_error_is_784_times_the_per_pixel_mean_and_summarised_over_seeds():
    from regae.study.reproductions.hinton2006 import squared_errors, summary

    class Half(torch.nn.Module):  # reconstructs every image as 0.5 everywhere
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x):
            from regae.nets.base import AEOutput

            return AEOutput(torch.full_like(x, 0.5) + 0 * self.w, x.flatten(1)[:, :2])

    images = torch.zeros(4, 28, 28, dtype=torch.uint8)
    images[1] = 255  # black: error 0.25 per pixel; white: 0.25 too
    assert squared_errors(Half(), images) == pytest.approx([784 * 0.25] * 4)
    s = summary([[3.0, 3.2, 2.8, 3.0], [2.0, 2.2, 1.8, 2.0]])
    assert s["mean"] == pytest.approx(2.5) and s["std"] == pytest.approx(math.sqrt(0.5)) and s["per_seed"] == [3.0, 2.0]
    assert s["ci_low"] <= 2.5 <= s["ci_high"] and s["psnr_db"] == pytest.approx(10 * math.log10(784 / 2.5))


def test_hinton_why_note_reads_the_deep_ae_s_curves_and_gap():
    """The note averages the seeds' validation curves before taking the last-quarter gain, and names
    the protocol's suspects only for a missed target."""
    from types import SimpleNamespace

    from regae.study.reproductions.hinton2006 import WHY, why_note

    flat = [SimpleNamespace(val_psnr=[20.0, 23.0, 23.5, 23.6], seed=0), SimpleNamespace(val_psnr=[20.0, 23.0, 23.5, 23.8], seed=1)]
    no_gap = {"estimate": 0.1, "ci_low": -0.1, "ci_high": 0.3, "p": 0.4, "n_boot": 2000, "train_psnr": 23.8,
              "val_psnr": 23.7, "n_train": 5000, "n_val": 5000}
    text, record = why_note(flat, 3.30, no_gap)
    assert record["last_quarter_gain_db"] == pytest.approx(0.2) and record["diagnosis"] == "converged"
    assert "gained +0.20 dB over the last quarter of its 4 epoch(s)" in text and "3.30 > 3.00" in text
    assert text.endswith(WHY["converged"]) and not record["met"]
    text, record = why_note(flat, 2.95, no_gap)
    assert record["met"] and text.endswith("The target is met: 2.95 ≤ 3.00.") and "RBM" not in text
    short = [SimpleNamespace(val_psnr=[20.0, 23.0], seed=0)]
    assert why_note(short, 3.30, no_gap)[1]["diagnosis"] == "too short"


@pytest.mark.slow
def test_hinton2006_quick_end_to_end(tmp_path):
    code, _, err = run_cli("reproduce", "hinton2006", "--quick", "--out", str(tmp_path / "out"), "--cache",
                           str(tmp_path / "cache"))
    assert code == 0, err
    metrics = json.loads((tmp_path / "out/metrics.json").read_text())["hinton2006_table"]
    assert [metrics[r]["paper"] for r in ("deep autoencoder", "logistic PCA", "PCA")] == [3.00, 8.01, 13.87]
    assert all(metrics[r]["ours"]["mean"] > 0 for r in ("deep autoencoder", "logistic PCA", "PCA"))
    assert len(metrics["orderings"]) == 3 and metrics["deep autoencoder"]["target_met"] in (True, False)
    assert 8 < metrics["PCA"]["ours"]["mean"] < 20  # PCA-30 fitted on 512 images, scored on 256: near the paper's 13.87
    clipped = metrics["PCA, clipped to [0, 1]"]["ours"]["mean"]
    assert clipped < metrics["PCA"]["ours"]["mean"] and metrics["PCA, clipped to [0, 1]"]["paper"] is None
    why = json.loads((tmp_path / "out/metrics.json").read_text())["hinton2006_curves"]["convergence"]
    assert why["diagnosis"] == "too short" and why["met"] is False  # 1 epoch on 512 images
    assert "from a curve too short to say why" in (tmp_path / "out/index.md").read_text()


def test_vincent_rows_differ_only_in_their_pretraining():
    from dataclasses import replace

    v = vincent2010
    assert v.PUBLISHED.rows == {"SdA-3": (1.28,), "SAE-3": (1.40,)} and v.ROWS == ("SdA-3", "SAE-3", "no pre-training")
    assert v.SDA.pretrain_corrupt == "masking:0.25" and replace(v.SDA, name=v.SAE.name, pretrain_corrupt=None) == v.SAE
    # no end-to-end AE training: after (or without) pre-training, fine-tuning is the only step, the same for every row
    assert v.SAE.epochs == v.RANDOM.epochs == (0, 0, 0) and v.RANDOM.pretrain == (0, 0, 0)
    assert v.SAE.seeds == v.RANDOM.seeds == v.FINETUNE.seeds and min(v.FINETUNE.seeds[1:]) >= 3
    assert list(v.ORDER) == [("SdA-3", "SAE-3"), ("SAE-3", "no pre-training"), ("SdA-3", "no pre-training")]


def test_vincent_layer_errors_on_a_hand_made_stack():
    """All weights and biases 0: every unit is sigmoid(0) = 1/2, so layer 1 reconstructs each pixel as 1/2
    (MSE mean (x − 1/2)², clean or masked alike) and layers 2 and 3 reconstruct their constant input 1/2 exactly."""
    model = AutoEncoder(**vincent2010.NET)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    images = torch.rand(5, 1, 28, 28)
    errors = vincent2010.layer_errors(model, images, noise="masking:0.5")
    expected = float(((images - 0.5) ** 2).mean())
    assert errors[0] == pytest.approx({"clean": expected, "corrupted": expected}, rel=1e-6)
    assert errors[1:] == [{"clean": 0.0, "corrupted": 0.0}] * 2


@pytest.mark.slow
def test_vincent2010_quick_end_to_end(tmp_path):
    out = tmp_path / "out"
    code, stdout, err = run_cli("reproduce", "vincent2010", "--quick", "--out", str(out), "--cache", str(tmp_path / "cache"))
    assert code == 0, err
    assert "pre-trained 3 layers as denoising AEs (masking:0.25)" in stdout and "pre-trained 3 layers in" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    table = metrics["vincent2010_table"]
    for row, paper in (("SdA-3", 1.28), ("SAE-3", 1.40), ("no pre-training", None)):
        err_ = table[row]["test_error"]
        assert 0 <= err_["ci_low"] <= err_["mean"] <= err_["ci_high"] <= 100 and len(err_["per_seed"]) == 1
        assert table[row]["paper"]["test_error"] == paper and (table[row]["agrees"] is None) == (paper is None)
    orderings = metrics["vincent2010_orderings"]["test_error"]
    assert [(r["a"], r["b"]) for r in orderings] == [("SdA-3", "SAE-3"), ("SAE-3", "no pre-training"),
                                                      ("SdA-3", "no pre-training")]
    assert all(0 <= r["p"] <= 1 and r["test"] == "exact McNemar" for r in orderings)
    layers = metrics["vincent2010_layers"]
    assert [len(layers[row]) for row in ("SdA-3", "SAE-3", "no pre-training")] == [3, 3, 3]
    # layer 1 sees the same images in every row: pre-training moved it away from the random init
    assert layers["SdA-3"][0]["clean"]["mean"] < layers["no pre-training"][0]["clean"]["mean"]
    assert metrics["report"]["models"] == 6 and metrics["report"]["models_from_cache"] == 0
    index = (out / "index.md").read_text()
    assert "| SdA-3 | denoising AEs (masking:0.25) | 1.28 % |" in index and "| no pre-training | none (random init) | —" in index
    assert "Where this run differs from the paper" in index and "papernotes" in index
    assert (out / "figures/vincent2010/curves.png").stat().st_size > 2000

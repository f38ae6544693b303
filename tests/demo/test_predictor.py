"""demo.predictor on the slim checkpoints: real models, real numbers, no Gradio."""

from __future__ import annotations

import math
import os
import shutil

import numpy as np
import pytest
import torch

from demo.predictor import Predictor, alphas_for, list_checkpoints
from regae.data import load_split
from regae.errors import CheckpointError, ConfigError
from regae.model.inference import psnr
from tests.demo.paths import DEFAULT, REPORT, SLIM
from tests.support.demo import small_reference


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    test = load_split("test")
    return test.images[0].numpy() / 255.0, test.images[1].numpy() / 255.0  # a 7 and a 2


def test_slim_checkpoints_are_listed_and_load(slim):
    assert slim.names()[:2] == ["sparse", "contractive"]
    for name in ("sparse", "contractive"):
        assert (SLIM / f"{name}.ckpt").stat().st_size < 4 * 2**20  # small enough to commit


@pytest.mark.slow  # analyses the full-size models on all of MNIST: about a minute on the shared 2-core machine
def test_the_default_checkpoints_are_the_reports_best_and_the_card_says_so(default):
    """python -m demo serves docs/report-full's models (test PSNR 24.43 / 24.81 dB there), labelled with their
    training, and their analysis finds those figures again."""
    from demo.views import cards_markdown

    assert default.names() == ["sparse", "contractive"]
    status = default.status()
    cards = cards_markdown(default.checkpoint_dir, default, status)
    for name, reported, preset in (("sparse", 24.43, "sparse"), ("contractive", 24.81, "contractive-hutchinson")):
        path = DEFAULT / f"{name}.ckpt"
        assert path.read_bytes() == (REPORT / f"{name}.ckpt").read_bytes()  # bash demo/update_checkpoints.sh
        assert path.stat().st_size < 4 * 2**20  # small enough to commit
        m = default.loaded(name)
        assert m.insight.test_psnr >= 24.0
        assert m.insight.test_psnr == pytest.approx(reported, abs=0.01)  # as docs/report-full/index.md says
        assert m.insight.accuracy > 0.9 and m.insight.n_test == 10_000
        assert m.insight.map.projection.kind == "LD"
        assert 0.3 < m.insight.separation < m.insight.accuracy  # measured 0.48 / 0.51; chance 0.1
        row = next(line for line in cards.splitlines() if line.startswith(f"| `{name}` |"))
        assert f"| {m.insight.test_psnr:.2f} dB |" in row and f"{reported:.2f} dB" in row
        assert f"≈ `{preset}` |" in row and "8,600 steps (epoch 20), batch 128" in row
        assert f"| LD: {100 * m.insight.separation:.1f} % |" in row


def test_models_and_their_analysis_are_made_once(slim):
    assert slim.loaded("sparse") is slim.loaded("sparse")
    assert slim.model("sparse") is slim.loaded("sparse").model


@pytest.mark.parametrize("name", ["sparse", "contractive"])
def test_run_numbers(slim, pair, name):
    result = slim.run(name, *pair, steps=6)
    it = result.interpolation
    torch.testing.assert_close(it.alphas, torch.tensor([0.0, 0.2, 0.4, 0.6, 0.8, 1.0]))
    assert result.reconstructions.shape == (2, 1, 28, 28)
    assert it.pixel.shape == it.latent.shape == (6, 1, 28, 28)
    for t in (result.reconstructions, it.pixel, it.latent):
        assert 0 <= t.min() and t.max() <= 1
    # The ends are the two digits themselves: identical images, +inf dB, zero latent distance.
    assert math.isinf(it.psnr[0]) and math.isinf(it.psnr[-1]) and it.psnr[0] > 0
    assert it.latent_dist[0] == 0 and it.latent_dist[-1] == 0
    assert torch.isfinite(it.psnr[1:-1]).all() and (it.latent_dist[1:-1] > 0).all()
    # α is the weight of B: the strip starts at A's reconstruction and ends at B's,
    # computed independently by a plain forward pass.
    torch.testing.assert_close(it.latent[0], result.reconstructions[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(it.latent[-1], result.reconstructions[1], atol=1e-5, rtol=0)
    torch.testing.assert_close(it.pixel[0], result.reconstructions[0], atol=1e-5, rtol=0)
    # A trained model, not a collapsed one: its reconstructions resemble the digits (measured
    # 17-23 dB for both slim models; a model stuck at the mean image gives about 12 dB).
    per_image = psnr(result.reconstructions, result.inputs, dim=(1, 2, 3))
    assert (per_image > 15).all(), per_image
    assert (it.psnr[1:-1] < 40).all(), it.psnr  # the two routes differ between the ends (measured 16-26 dB)
    # Middle of the path: the two routes really differ (finite PSNR) but are still images of ink.
    mid = len(it.alphas) // 2
    assert it.latent[mid].mean() > 0.02
    # The route codes are the codes interpolate() decoded: their distance is its ‖h_α − h'_α‖₂.
    torch.testing.assert_close((result.pixel_codes - result.latent_codes).norm(dim=1), it.latent_dist,
                               atol=1e-6, rtol=0)
    # Classes: a 7 and a 2, named for A and B and at both ends of both routes.
    names = slim.loaded(name).insight.classifier.class_names
    assert [names[k] for k in result.proba.argmax(1)] == ["7", "2"]
    np.testing.assert_allclose(result.proba.sum(1), 1, atol=1e-6)
    for classes in (result.pixel_classes, result.latent_classes):
        assert (classes[0], classes[-1]) == (7, 2) and len(classes) == 6


@pytest.mark.parametrize("name", ["sparse", "contractive"])
def test_map_routes_start_at_A_and_end_at_B(slim, pair, name):
    """Both routes' ends are the codes of A and B from a plain forward pass; the latent route is straight."""
    result = slim.run(name, *pair, steps=7)
    model, projection = slim.model(name), slim.loaded(name).insight.map.projection
    assert projection.kind == "LD"  # MNIST has labels: Fisher's linear discriminant of the training codes
    with torch.no_grad():
        h = torch.cat([model.encode(torch.from_numpy(np.float32(d))[None, None]) for d in pair])  # (2, d), alone
    # the routes' end codes are the codes of A and B (up to the float noise of another batch) ...
    torch.testing.assert_close(result.pixel_codes[[0, -1]], h, atol=1e-5, rtol=0)
    torch.testing.assert_close(result.latent_codes[[0, -1]], result.pixel_codes[[0, -1]], atol=0, rtol=0)
    # ... and the map's projection places those codes exactly at both routes' ends, where the app
    # draws the A and B marks; the marks of see() (A and B in one batch) land there too
    ends = projection.project(result.pixel_codes[[0, -1]].numpy())  # (2, 2)
    np.testing.assert_allclose(result.pixel_points[[0, -1]], result.latent_points[[0, -1]], rtol=1e-12, atol=1e-12)
    for points in (result.pixel_points, result.latent_points):
        np.testing.assert_allclose(points[[0, -1]], ends, rtol=1e-12, atol=1e-12)  # float64, another batch
    seen = slim.see(name, list(pair))
    np.testing.assert_allclose(seen.points, projection.project(seen.codes.numpy()), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(seen.points, ends, atol=1e-4)
    # h'_α = (1-α) h_A + α h_B is the straight line: on the map, evenly spaced points of one segment.
    alphas = np.linspace(0, 1, 7)[:, None]
    line = (1 - alphas) * result.latent_points[0] + alphas * result.latent_points[-1]
    np.testing.assert_allclose(result.latent_points, line, atol=1e-6)
    assert np.abs(result.pixel_points - line).max() > 1e-3  # the codes of the pixel mixes leave the line


def test_predicted_classes_on_real_test_digits_match_the_accuracy_shown(slim):
    """The path a drawing takes (see()) classifies MNIST test digits as often right as the card says."""
    test = load_split("test")
    insight = slim.loaded("sparse").insight
    right = 0
    for s in range(0, 10000, 250):  # every test digit, in batches like the analysis
        images = list(test.images[s : s + 250].numpy() / 255.0)
        right += int((slim.see("sparse", images).proba.argmax(1) == test.labels[s : s + 250].numpy()).sum())
    assert insight.n_test == 10000
    assert abs(right / 10000 - insight.accuracy) <= 2e-4  # the same codes, up to float noise at a tie
    assert insight.accuracy > 0.85  # measured 0.917


def test_inputs_shown_are_the_inputs_given(slim, pair):
    result = slim.run("sparse", *pair, steps=3)
    np.testing.assert_allclose(result.inputs[:, 0].numpy(), np.stack(pair), atol=1e-7)


def test_images_of_the_wrong_shape_are_refused(slim, pair):
    with pytest.raises(ConfigError, match=r"Expected images of shape \(28, 28\), got \(14, 14\)"):
        slim.see("sparse", [np.zeros((14, 14))])


def test_steps_are_validated():
    assert len(alphas_for(2)) == 2 and len(alphas_for(33)) == 33
    for bad in (1, 34, 2.5, "6", True):
        with pytest.raises(ConfigError, match="steps"):
            alphas_for(bad)


def test_missing_corrupt_and_foreign_checkpoints(tmp_path, pair):
    shutil.copy(SLIM / "sparse.ckpt", tmp_path / "sparse.ckpt")
    (tmp_path / "broken.ckpt").write_bytes((SLIM / "contractive.ckpt").read_bytes()[:5000])  # truncated
    torch.save({"hello": 1}, tmp_path / "foreign.ckpt")
    p = Predictor(tmp_path, reference=small_reference)
    assert list(list_checkpoints(tmp_path)) == ["sparse", "broken", "foreign"]
    status = p.status()
    assert status["sparse"] is None
    assert "corrupt or truncated" in status["broken"]
    assert "not a regae checkpoint" in status["foreign"]
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        p.run("broken", *pair)
    with pytest.raises(CheckpointError, match="no checkpoint 'nope'"):
        p.model("nope")
    p.run("sparse", *pair)  # still serving after the failures

    gone = Predictor(tmp_path / "does-not-exist")
    assert gone.names() == [] and gone.status() == {}
    with pytest.raises(CheckpointError, match="available: none"):
        gone.model("sparse")


def test_a_replaced_checkpoint_is_reloaded_and_analysed_again(tmp_path):
    shutil.copy(SLIM / "sparse.ckpt", tmp_path / "m.ckpt")
    p = Predictor(tmp_path, reference=small_reference)
    first = p.loaded("m")
    shutil.copy(SLIM / "contractive.ckpt", tmp_path / "m.ckpt")
    os.utime(tmp_path / "m.ckpt", (1, 1))  # a different mtime, as a new file would have
    second = p.loaded("m")
    assert second.model is not first.model and second.insight is not first.insight
    assert second.model.hparams.regularizers[0]["name"] == "contractive"
    assert second.card.preset == "contractive-hutchinson"

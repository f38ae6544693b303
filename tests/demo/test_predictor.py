"""demo.predictor on the shipped checkpoints: real models, real numbers, no Gradio."""

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
from tests.support.demo import SHIPPED, small_reference


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    test = load_split("test")
    return test.images[0].numpy() / 255.0, test.images[1].numpy() / 255.0  # a 7 and a 2


def test_shipped_checkpoints_are_listed_and_load(shipped):
    assert shipped.names()[:2] == ["sparse", "contractive"]
    for name in ("sparse", "contractive"):
        assert (SHIPPED / f"{name}.ckpt").stat().st_size < 4 * 2**20  # small enough to commit


def test_models_and_their_analysis_are_made_once(shipped):
    assert shipped.loaded("sparse") is shipped.loaded("sparse")
    assert shipped.model("sparse") is shipped.loaded("sparse").model


@pytest.mark.parametrize("name", ["sparse", "contractive"])
def test_run_numbers(shipped, pair, name):
    result = shipped.run(name, *pair, steps=6)
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
    # 17-23 dB for both shipped models; a model stuck at the mean image gives about 12 dB).
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
    names = shipped.loaded(name).insight.classifier.class_names
    assert [names[k] for k in result.proba.argmax(1)] == ["7", "2"]
    np.testing.assert_allclose(result.proba.sum(1), 1, atol=1e-6)
    for classes in (result.pixel_classes, result.latent_classes):
        assert (classes[0], classes[-1]) == (7, 2) and len(classes) == 6


@pytest.mark.parametrize("name", ["sparse", "contractive"])
def test_map_routes_start_at_A_and_end_at_B(shipped, pair, name):
    """Both routes' ends are the codes of A and B from a plain forward pass; the latent route is straight."""
    result = shipped.run(name, *pair, steps=7)
    model, pca = shipped.model(name), shipped.loaded(name).insight.map.pca
    with torch.no_grad():
        h = [model.encode(torch.from_numpy(np.float32(d))[None, None]) for d in pair]  # (1, d) each, alone
    ends = pca.project(torch.cat(h).numpy())  # (2, 2)
    for points in (result.pixel_points, result.latent_points):
        np.testing.assert_allclose(points[[0, -1]], ends, atol=1e-5)
    np.testing.assert_allclose(shipped.see(name, list(pair)).points, ends, atol=1e-5)  # the A and B marks
    # h'_α = (1-α) h_A + α h_B is the straight line: on the map, evenly spaced points of one segment.
    alphas = np.linspace(0, 1, 7)[:, None]
    line = (1 - alphas) * result.latent_points[0] + alphas * result.latent_points[-1]
    np.testing.assert_allclose(result.latent_points, line, atol=1e-6)
    assert np.abs(result.pixel_points - line).max() > 1e-3  # the codes of the pixel mixes leave the line


def test_predicted_classes_on_real_test_digits_match_the_accuracy_shown(shipped):
    """The path a drawing takes (see()) classifies MNIST test digits as often right as the card says."""
    test = load_split("test")
    insight = shipped.loaded("sparse").insight
    right = 0
    for s in range(0, 10000, 250):  # every test digit, in batches like the analysis
        images = list(test.images[s : s + 250].numpy() / 255.0)
        right += int((shipped.see("sparse", images).proba.argmax(1) == test.labels[s : s + 250].numpy()).sum())
    assert insight.n_test == 10000
    assert abs(right / 10000 - insight.accuracy) <= 2e-4  # the same codes, up to float noise at a tie
    assert insight.accuracy > 0.85  # measured 0.917


def test_inputs_shown_are_the_inputs_given(shipped, pair):
    result = shipped.run("sparse", *pair, steps=3)
    np.testing.assert_allclose(result.inputs[:, 0].numpy(), np.stack(pair), atol=1e-7)


def test_images_of_the_wrong_shape_are_refused(shipped, pair):
    with pytest.raises(ConfigError, match=r"Expected images of shape \(28, 28\), got \(14, 14\)"):
        shipped.see("sparse", [np.zeros((14, 14))])


def test_steps_are_validated():
    assert len(alphas_for(2)) == 2 and len(alphas_for(33)) == 33
    for bad in (1, 34, 2.5, "6", True):
        with pytest.raises(ConfigError, match="steps"):
            alphas_for(bad)


def test_missing_corrupt_and_foreign_checkpoints(tmp_path, pair):
    shutil.copy(SHIPPED / "sparse.ckpt", tmp_path / "sparse.ckpt")
    (tmp_path / "broken.ckpt").write_bytes((SHIPPED / "contractive.ckpt").read_bytes()[:5000])  # truncated
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
    shutil.copy(SHIPPED / "sparse.ckpt", tmp_path / "m.ckpt")
    p = Predictor(tmp_path, reference=small_reference)
    first = p.loaded("m")
    shutil.copy(SHIPPED / "contractive.ckpt", tmp_path / "m.ckpt")
    os.utime(tmp_path / "m.ckpt", (1, 1))  # a different mtime, as a new file would have
    second = p.loaded("m")
    assert second.model is not first.model and second.insight is not first.insight
    assert second.model.hparams.regularizers[0]["name"] == "contractive"
    assert second.card.preset == "contractive-hutchinson"

"""demo.predictor on the shipped checkpoints: real models, real numbers, no Gradio."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from demo.predictor import Predictor, alphas_for, list_checkpoints
from regae.analysis.interpolate import psnr_per_image
from regae.data import load_split
from regae.errors import CheckpointError, ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "demo" / "checkpoints"


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor(SHIPPED)


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    test = load_split("test")
    return test.images[0].numpy() / 255.0, test.images[1].numpy() / 255.0  # a 7 and a 2


def test_shipped_checkpoints_are_listed_and_load(predictor):
    assert predictor.names()[:2] == ["sparse", "contractive"]
    assert predictor.status() == {name: None for name in predictor.names()}
    for name in ("sparse", "contractive"):
        assert (SHIPPED / f"{name}.ckpt").stat().st_size < 4 * 2**20  # small enough to commit


def test_models_are_loaded_once(predictor):
    assert predictor.model("sparse") is predictor.model("sparse")


@pytest.mark.parametrize("name", ["sparse", "contractive"])
def test_run_numbers(predictor, pair, name):
    result = predictor.run(name, *pair, steps=6)
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
    psnr = psnr_per_image(result.reconstructions, result.inputs)
    assert (psnr > 15).all(), psnr
    assert (it.psnr[1:-1] < 40).all(), it.psnr  # the two routes differ between the ends (measured 16-26 dB)
    # Middle of the path: the two routes really differ (finite PSNR) but are still images of ink.
    mid = len(it.alphas) // 2
    assert it.latent[mid].mean() > 0.02


def test_inputs_shown_are_the_inputs_given(predictor, pair):
    result = predictor.run("sparse", *pair, steps=3)
    np.testing.assert_allclose(result.inputs[:, 0].numpy(), np.stack(pair), atol=1e-7)


def test_steps_are_validated():
    assert len(alphas_for(2)) == 2 and len(alphas_for(33)) == 33
    for bad in (1, 34, 2.5, "6", True):
        with pytest.raises(ConfigError, match="steps"):
            alphas_for(bad)


def test_missing_corrupt_and_foreign_checkpoints(tmp_path, pair):
    shutil.copy(SHIPPED / "sparse.ckpt", tmp_path / "sparse.ckpt")
    (tmp_path / "broken.ckpt").write_bytes((SHIPPED / "contractive.ckpt").read_bytes()[:5000])  # truncated
    torch.save({"hello": 1}, tmp_path / "foreign.ckpt")
    p = Predictor(tmp_path)
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


def test_a_replaced_checkpoint_is_reloaded(tmp_path):
    shutil.copy(SHIPPED / "sparse.ckpt", tmp_path / "m.ckpt")
    p = Predictor(tmp_path)
    first = p.model("m")
    shutil.copy(SHIPPED / "contractive.ckpt", tmp_path / "m.ckpt")
    os.utime(tmp_path / "m.ckpt", (1, 1))  # a different mtime, as a new file would have
    second = p.model("m")
    assert second is not first
    assert second.hparams.regularizers[0]["name"] == "contractive"

"""regae.analysis.health: L0, dead and dense units, FVU on hand-made codes with known answers."""

import numpy as np
import pytest
import torch

from regae.analysis.health import code_health


def test_l0_dead_dense_and_fvu_by_hand():
    codes = torch.zeros(20, 5)
    codes[:, 0] = 1.0  # active on every image: dense
    codes[:2, 1] = 0.5  # on 2 of 20 images (10 %): not dense (dense is > 10 %)
    codes[:3, 2] = 2.0  # on 3 of 20 (15 %): dense
    # units 3 and 4 never fire: dead
    images = torch.zeros(20, 1, 2, 2)
    images[10:] = 1.0  # mean image 0.5 everywhere: each image's squared deviation 0.25 per pixel
    sq_err = np.full(20, 0.05)  # the reconstructions' per-image MSE
    h = code_health(codes, sq_err, images, "topk:2")
    assert h["l0"]["mean"] == pytest.approx((20 + 2 + 3) / 20) and h["latent_dim"] == 5
    assert h["dead_fraction"] == pytest.approx(2 / 5) and h["dense_fraction"] == pytest.approx(2 / 5)
    assert h["fvu"]["estimate"] == pytest.approx(0.05 / 0.25)
    assert h["fvu"]["ci_low"] == pytest.approx(0.2) and h["fvu"]["ci_high"] == pytest.approx(0.2)  # no spread to resample
    assert h["active_rule"] == "h > 0"
    assert sorted(h["log10_frequency"]) == pytest.approx(sorted(np.log10([1.0, 0.1, 0.15]).tolist()))


def test_the_active_rule_follows_the_code():
    codes = torch.tensor([[0.2, 0.7], [0.6, 0.4]])
    images = torch.rand(2, 1, 3, 3)
    sigmoid = code_health(codes, np.zeros(2), images, "sigmoid")
    assert sigmoid["l0"]["mean"] == 1.0 and sigmoid["active_rule"] == "h > 0.5"
    linear = code_health(codes, np.zeros(2), images, "none")
    assert linear["l0"]["mean"] == 2.0 and linear["dead_fraction"] == 0.0 and linear["fvu"]["estimate"] == 0.0


def test_a_perfect_reconstruction_has_fvu_zero_and_the_mean_image_one():
    torch.manual_seed(0)
    images = torch.rand(50, 1, 4, 4)
    var = (images - images.mean(0)).pow(2).flatten(1).mean(1).double().numpy()
    assert code_health(torch.ones(50, 3), var, images, "relu")["fvu"]["estimate"] == pytest.approx(1.0)
    assert code_health(torch.ones(50, 3), np.zeros(50), images, "relu")["fvu"]["estimate"] == 0.0

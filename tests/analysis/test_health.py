"""regae.analysis.health: L0, dead and dense units, FVU, the units' order and images on hand-made codes with known answers."""

import numpy as np
import pytest
import torch

from regae import AutoEncoder
from regae.analysis.health import code_health, unit_images, unit_order


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


def test_units_order_by_frequency_then_by_mean_code():
    codes = torch.zeros(10, 5)
    codes[:6, 3] = 0.2  # active on 6 of 10 images
    codes[:2, 1] = 5.0  # on 2: after unit 3, however large its values
    codes[:2, 4] = 1.0  # on 2 too, smaller values: after unit 1
    # units 0 and 2 are dead: last, by index (equal mean 0)
    order, freq = unit_order(codes, "relu")
    assert order == [3, 1, 4, 0, 2]
    assert freq.tolist() == [0.0, 0.2, 0.0, 0.6, 0.2]
    sigmoid = torch.full((4, 3), 0.1)  # never above 1/2 (a sigmoid code under KL sparsity): all dead, by mean
    sigmoid[:, 1] = 0.3
    sigmoid[0, 2] = 0.45
    assert unit_order(sigmoid, "sigmoid")[0] == [1, 2, 0]


def test_unit_images_are_the_argsort_of_each_units_codes_and_its_decoder_image():
    torch.manual_seed(0)
    model = AutoEncoder(arch="mlp", widths=[], latent_dim=4, latent_activation="relu", input_shape=(1, 3, 3))
    codes = torch.rand(50, 4)
    codes[:, 2] = 0.0  # dead
    codes[:25, 0] = 0.0  # active on half of the images: after units 1 and 3
    shown = unit_images(model, codes, "relu", n_units=8, n_top=5)
    assert shown["units"][0] in (1, 3) and shown["units"][2] == 0 and 2 not in shown["units"]
    for j, top in zip(shown["units"], shown["top_images"]):
        assert top == np.argsort(-codes[:, j].numpy(), kind="stable")[:5].tolist()
    with torch.no_grad():  # ReLU codes: D(s·e_j) from the zero code, s the 99th percentile of h_j
        for r, j in enumerate(shown["units"]):
            probe = torch.zeros(1, 4)
            probe[0, j] = float(np.quantile(codes[:, j].numpy(), 0.99))
            torch.testing.assert_close(shown["decoded"][r], model.decode(probe)[0])
    every = unit_images(model, codes, "relu", n_units=4, dead=True)
    assert every["units"][-1] == 2 and every["frequency"][-1] == 0.0

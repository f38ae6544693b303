"""demo.units: the unit view's numbers, checked against closed forms and independent computations.

On the slim test checkpoints analysed on all of MNIST (conftest's ``slim``), and on small MLPs
whose decoder is one linear layer before its sigmoid, where editing a unit has a closed form.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from demo.insight import BATCH, as_images
from demo.units import Units, check_units, edit_unit, slider_range, unit_choices, unit_stats
from demo.views import unit_image
from regae import AutoEncoder
from regae.data import load_split
from regae.model.inference import run


@pytest.fixture(scope="module")
def test_codes(slim) -> dict[str, torch.Tensor]:
    """Each slim model's codes of every MNIST test image, as start-up computes them (same batches)."""
    out = {}
    for name in slim.names():
        m = slim.loaded(name)
        out[name] = run(m.model, as_images(m.reference.test_images, m.insight.image_shape), BATCH,
                        decode=False).codes
    return out


def test_a_unit_set_to_its_own_value_gives_back_d_of_e_a_exactly(slim):
    a = load_split("test").images[0].numpy() / 255.0  # a 7
    for name in slim.names():
        seen = slim.see(name, [a])
        h = seen.codes[0]  # (d,)
        for j in range(len(h)):
            assert torch.equal(edit_unit(slim.model(name), h, j, float(h[j])), seen.reconstructions[0]), (name, j)
        assert torch.equal(h, seen.codes[0])  # the code itself is left as it was
        moved = edit_unit(slim.model(name), h, 3, float(h[3]) + 0.5)
        assert (moved - seen.reconstructions[0]).abs().max() > 1e-3  # and another value changes the image


@pytest.mark.parametrize("decoder_widths", [[], [16]])
def test_an_mlp_decoder_moves_by_t_times_its_column_before_the_nonlinearity(decoder_widths):
    """With a linear first layer W (out, d): layer(h + t e_j) − layer(h) = t W[:, j]; with no hidden layer, that is
    the decoder's output before its sigmoid."""
    torch.manual_seed(0)
    model = AutoEncoder(arch="mlp", widths=[16], decoder_widths=decoder_widths, latent_dim=6,
                        latent_activation="relu", input_shape=(1, 4, 5)).eval()
    first = model.net.decoder.net[0]  # nn.Linear(6, out)
    seen = []
    first.register_forward_hook(lambda module, args, out: seen.append(out.detach().clone()))
    h = torch.rand(6)
    for j, t in ((0, 0.7), (4, -1.3), (5, 2.0)):
        seen.clear()
        base = edit_unit(model, h, j, float(h[j]))
        moved = edit_unit(model, h, j, float(h[j]) + t)
        torch.testing.assert_close(seen[1][0] - seen[0][0], t * first.weight[:, j].detach(), rtol=0, atol=1e-5)
        if not decoder_widths:  # the whole decoder: sigmoid(W h + b), so the logits move by t W[:, j]
            torch.testing.assert_close(torch.logit(moved.flatten().double()) - torch.logit(base.flatten().double()),
                                       t * first.weight[:, j].detach().double(), rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match="Expected a unit `j` in \\[0, 5\\], got 6"):
        edit_unit(model, h, 6, 0.0)


def test_top_images_are_the_argsort_of_each_units_test_codes(slim, test_codes):
    for name in slim.names():
        units, codes = slim.loaded(name).insight.units, test_codes[name].numpy()
        assert units.top.shape == (32, 8)
        for j in range(codes.shape[1]):
            assert units.top[j].tolist() == np.argsort(-codes[:, j], kind="stable")[:8].tolist(), (name, j)
        # what the page shows of unit j: its decoder image, then those test images, in that order
        j = int(units.order[0])
        row = unit_image(units, j, slim.loaded(name).reference.test_images, zoom_factor=1, gap=0)  # (28, 9 * 28)
        assert row.shape == (28, 9 * 28)
        np.testing.assert_array_equal(row[:, :28], units.decoded[j, 0])
        test_images = load_split("test").images.numpy()
        for k, i in enumerate(units.top[j]):
            np.testing.assert_array_equal(row[:, 28 * (k + 1) : 28 * (k + 2)], test_images[i])


def test_units_order_by_frequency_then_mean(slim, test_codes):
    for name in slim.names():
        units, codes = slim.loaded(name).insight.units, test_codes[name].double()
        freq = (codes > 0.5).double().mean(0).numpy()  # a sigmoid code: active above 1/2
        np.testing.assert_array_equal(units.frequency, freq)
        np.testing.assert_allclose(units.mean, codes.mean(0).numpy(), rtol=1e-12)
        key = [(-freq[j], -units.mean[j], j) for j in range(32)]
        assert units.order.tolist() == sorted(range(32), key=key.__getitem__)
        labels = [label for label, _ in unit_choices(units)]
        assert [j for _, j in unit_choices(units)] == units.order.tolist()
        assert labels[0].startswith(f"unit {units.order[0]}: ")
    contractive, sparse = slim.loaded("contractive").insight.units, slim.loaded("sparse").insight.units
    assert (contractive.frequency > 0).all() and "active on" in unit_choices(contractive)[0][0]
    # the KL-sparse sigmoid code never passes 1/2 on a test image: every unit is dead by the report's rule,
    # listed by how much it is used
    assert (sparse.frequency == 0).all() and all("dead (never h > 0.5)" in label for label, _ in unit_choices(sparse))
    assert np.all(np.diff(sparse.mean[sparse.order]) <= 0)


def test_the_slider_holds_every_observed_value_and_the_current_one(slim, test_codes):
    for name in slim.names():
        units, codes = slim.loaded(name).insight.units, test_codes[name]
        for j in range(32):
            lo, hi, step = slider_range(units, j)
            assert (lo, hi) == (0.0, 1.0)  # a sigmoid code: 0..1
            assert lo <= float(codes[:, j].min()) and float(codes[:, j].max()) <= hi
            assert step == 0.001
    d = 3
    relu = Units("topk:2", np.arange(d), np.array([0.5, 0.2, 0.0]), np.zeros(d), np.array([0.0, 0.0, 0.0]),
                 np.array([4.0, 2.0, 0.0]), np.zeros((d, 1), np.int64), np.zeros((d, 1, 2, 2), np.uint8))
    assert slider_range(relu, 0) == pytest.approx((0.0, 4.4, 0.01))  # 0 to a tenth above the largest value seen
    assert slider_range(relu, 1, current=3.0) == pytest.approx((0.0, 3.0, 0.01))  # widened to h_j of A
    assert slider_range(relu, 2) == pytest.approx((0.0, 4.0, 0.01))  # never varies: the code's largest span
    linear = relu._replace(kind="none", low=np.array([-2.0, 1.0, 1.0]), high=np.array([3.0, 1.0, 1.0]))
    assert slider_range(linear, 0) == pytest.approx((-2.5, 3.5, 0.01))  # a tenth of the spread on either side
    assert slider_range(linear, 1) == pytest.approx((-1.5, 3.5, 0.01))
    assert slider_range(linear, 0, current=-7.0)[0] == -7.0


def test_unit_stats_of_a_small_relu_model_by_hand():
    torch.manual_seed(0)
    model = AutoEncoder(arch="mlp", widths=[], latent_dim=3, latent_activation="relu", input_shape=(1, 2, 2)).eval()
    codes = torch.tensor([[0.0, 1.0, 0.0], [2.0, 3.0, 0.0], [0.0, 0.5, 0.0], [1.0, 0.0, 0.0]])
    units = unit_stats(model, codes, "relu", n_top=2)
    assert units.order.tolist() == [1, 0, 2]  # on 3, 2 and 0 of the 4 images
    np.testing.assert_array_equal(units.frequency, [0.5, 0.75, 0.0])
    np.testing.assert_array_equal(units.low, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(units.high, [2.0, 3.0, 0.0])
    assert units.top.tolist() == [[1, 3], [1, 0], [0, 1]]
    with torch.no_grad():  # D(s·e_1) from the zero code, s the 99th percentile of h_1, as 8 bits
        probe = torch.tensor([[0.0, float(np.quantile([1.0, 3.0, 0.5, 0.0], 0.99)), 0.0]])
        expected = (model.decode(probe)[0].numpy() * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(units.decoded[1], expected)
    check_units(units, 3, (1, 2, 2), n_test=4)
    for bad in (units._replace(order=np.array([1, 1, 2])), units._replace(top=units.top + 3),
                units._replace(decoded=units.decoded.astype(np.float32))):
        with pytest.raises(ValueError, match="unit statistics of another shape"):
            check_units(bad, 3, (1, 2, 2), n_test=4)


def test_a_colour_units_row_keeps_its_colours():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 3, 2, 3), dtype=np.uint8)  # five 2x3 RGB test images
    units = Units("relu", np.arange(2), np.ones(2), np.ones(2), np.zeros(2), np.ones(2), np.array([[4, 1], [0, 2]]),
                  rng.integers(0, 256, (2, 3, 2, 3), dtype=np.uint8))
    row = unit_image(units, 0, torch.from_numpy(images), zoom_factor=2, gap=1)
    # decoder tile (2·2 + 2 gaps) wide, 3 px of space, then two tiles: 1 + 6 + 1 | 3 | 1 + 6 + 1 + 6 + 1
    assert row.shape == (1 + 4 + 1, 8 + 3 + 15, 3)
    np.testing.assert_array_equal(row[1:5, 1:7], units.decoded[0].transpose(1, 2, 0).repeat(2, 0).repeat(2, 1))
    assert (row[:, 8:11] == 255).all()
    np.testing.assert_array_equal(row[1:5, 12:18], images[4].transpose(1, 2, 0).repeat(2, 0).repeat(2, 1))
    np.testing.assert_array_equal(row[1:5, 19:25], images[1].transpose(1, 2, 0).repeat(2, 0).repeat(2, 1))

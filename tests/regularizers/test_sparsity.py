"""L1 and KL sparsity against hand-computed numbers and finite differences."""

import math

import pytest
import torch

from regae.errors import ConfigError
from regae.regularizers import KLSparsity, L1Sparsity, WeightDecay, build_regularizers, kl_sparsity, l1_activity


def test_l1_hand_value():
    h = torch.tensor([[1.0, -2.0, 0.0], [0.5, 0.5, -1.0]])
    # per-sample L1: 3 and 2 -> mean 2.5
    assert l1_activity(h).item() == pytest.approx(2.5)
    assert L1Sparsity(0.1)(None, None, h).item() == pytest.approx(2.5)


def test_kl_hand_value():
    h = torch.tensor([[0.1, 0.5], [0.3, 0.7]])  # rho_hat = [0.2, 0.6]
    rho = 0.05

    def kl(r, q):
        return r * math.log(r / q) + (1 - r) * math.log((1 - r) / (1 - q))

    expected = kl(rho, 0.2) + kl(rho, 0.6)
    assert kl_sparsity(h, rho).item() == pytest.approx(expected, rel=1e-6)
    assert kl_sparsity(torch.full((4, 3), rho), rho).item() == pytest.approx(0.0, abs=1e-7)


def test_kl_rejects_out_of_range():
    with pytest.raises(ValueError, match=r"activations in \(0, 1\)"):
        kl_sparsity(torch.tensor([[1.5, 0.2]]), 0.05)
    with pytest.raises(ConfigError, match="rho"):
        KLSparsity(1e-3, rho=1.0)


def test_weight_decay_value():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        net[0].bias.fill_(10.0)
    assert WeightDecay(1.0)(net, None, torch.zeros(1)).item() == pytest.approx(30.0)


def _fd_check(penalty, h):
    """Central finite differences of penalty(h) w.r.t. h, in float64."""
    h = h.double().requires_grad_(True)
    (grad,) = torch.autograd.grad(penalty(h), h)
    eps = 1e-6
    fd = torch.zeros_like(h)
    for i in range(h.numel()):
        e = torch.zeros_like(h).view(-1)
        e[i] = eps
        e = e.view_as(h)
        fd.view(-1)[i] = (penalty(h + e) - penalty(h - e)) / (2 * eps)
    assert torch.allclose(grad, fd, rtol=1e-5, atol=1e-8)


def test_l1_gradient_finite_differences():
    _fd_check(l1_activity, torch.tensor([[0.3, -0.7, 1.2], [-0.1, 0.4, 0.9]]))


def test_kl_gradient_finite_differences():
    _fd_check(lambda h: kl_sparsity(h, 0.05), torch.tensor([[0.1, 0.5, 0.9], [0.3, 0.7, 0.2]]))


@pytest.mark.parametrize(
    "specs, message",
    [
        ([{"name": "dropout", "weight": 1}], "Unknown regularizer 'dropout'"),
        ([{"name": "l1", "weight": -1.0}], "finite and >= 0"),
        ([{"name": "l1"}], "needs a `weight`"),
        ([{"name": "kl", "weight": 1, "sigma": 2}], r"Unknown option\(s\) \['sigma'\]"),
        ([{"name": "l1", "weight": 1}, {"name": "l1", "weight": 2}], "once"),
        ([{"name": "contractive", "weight": 1, "mode": "fast"}], "mode"),
        (["l1"], "mapping with a `name`"),
    ],
)
def test_build_errors(specs, message):
    with pytest.raises(ConfigError, match=message):
        build_regularizers(specs)

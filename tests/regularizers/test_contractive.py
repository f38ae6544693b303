"""The contractive penalty: exact (torch.func) == closed form == brute-force autograd; Hutchinson ≈ exact."""

import pytest
import torch
from torch import nn

from regae.errors import ConfigError
from regae.nets import build_net
from regae.regularizers import Contractive, frobenius_exact, frobenius_hutchinson, frobenius_sigmoid_layer
from regae.regularizers.contractive import frobenius_exact_from_graph


def brute_force(encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per-sample Jacobian with plain autograd, one sample and one unit at a time."""
    out = []
    for xi in x:
        xi = xi.unsqueeze(0).clone().requires_grad_(True)
        h = encoder(xi)[0]
        rows = [torch.autograd.grad(h[k], xi, retain_graph=True)[0] for k in range(h.numel())]
        out.append(torch.stack(rows).pow(2).sum())
    return torch.stack(out)


def test_exact_equals_closed_form_on_sigmoid_layer():
    torch.manual_seed(0)
    net = build_net("mlp", widths=[], latent_dim=12, latent_activation="sigmoid").double()
    x = torch.rand(5, 1, 28, 28, dtype=torch.float64)
    h = net.encode(x)
    closed = frobenius_sigmoid_layer(net.encoder[1].weight, h)
    exact = frobenius_exact(net.encoder, x)
    assert torch.allclose(exact, closed, rtol=1e-10)
    reg = Contractive(1.0, mode="closed_form")
    reg.check(net, "sigmoid")
    assert reg(net, x, h).item() == pytest.approx(closed.mean().item(), rel=1e-10)


@pytest.mark.parametrize("chunk_size", [1, 5, None])
def test_exact_equals_brute_force_on_conv_encoder(chunk_size):
    torch.manual_seed(1)
    net = build_net("conv", widths=[2, 4, 2], decoder="deconv", latent_activation="none").double()  # d = 18
    x = torch.rand(3, 1, 28, 28, dtype=torch.float64)
    ref = brute_force(net.encoder, x)
    got = frobenius_exact(net.encoder, x, chunk_size=chunk_size)
    assert torch.allclose(got, ref, rtol=1e-9)


def test_exact_works_on_unet_and_matches_brute_force():
    torch.manual_seed(2)
    net = build_net("unet", widths=[4, 8, 8], latent_dim=6).double()
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    assert torch.allclose(frobenius_exact(net.encoder, x), brute_force(net.encoder, x), rtol=1e-9)


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 20), (1, 32, 32)])
def test_exact_equals_brute_force_on_other_shapes(shape):
    """RGB, non-square and 32x32 grey U-Nets: torch.func, the training-graph VJPs and the
    Contractive regularizer all equal d per-sample autograd passes."""
    torch.manual_seed(6)
    net = build_net("unet", widths=[3, 4, 4], latent_dim=5, input_shape=shape).double()
    x = torch.rand(2, *shape, dtype=torch.float64)
    ref = brute_force(net.encoder, x)
    assert torch.allclose(frobenius_exact(net.encoder, x), ref, rtol=1e-9)
    xg = x.clone().requires_grad_(True)
    h = net.encode(xg)
    assert torch.allclose(frobenius_exact_from_graph(h, xg), ref, rtol=1e-9)
    assert Contractive(1.0)(net, xg, h).item() == pytest.approx(ref.mean().item(), rel=1e-9)


def test_hutchinson_converges_to_exact():
    torch.manual_seed(3)
    net = build_net("unet", widths=[4, 8, 8], latent_dim=8)
    x = torch.rand(4, 1, 28, 28)
    exact = frobenius_exact(net.encoder, x)
    # 2000 independent one-probe estimates per sample in one batched VJP (samples are independent).
    probes = 2000
    xr = x.repeat(probes, 1, 1, 1).requires_grad_(True)  # (probes*4, 1, 28, 28)
    g = torch.Generator().manual_seed(0)
    single = frobenius_hutchinson(net.encode(xr), xr, probes=1, generator=g).detach().view(probes, 4)
    assert torch.allclose(single.mean(0), exact, rtol=0.05)
    assert single.std(0).min() > 0.05 * exact.min()  # one probe is noisy; the average is not
    xs = x.clone().requires_grad_(True)
    multi = frobenius_hutchinson(net.encode(xs), xs, probes=3, generator=g)
    assert multi.shape == (4,) and torch.isfinite(multi).all()


def test_penalty_gradient_finite_differences():
    """d/dθ of the exact penalty (a second-order quantity) against central differences."""
    torch.manual_seed(4)
    enc = nn.Sequential(nn.Flatten(), nn.Linear(784, 5), nn.Tanh(), nn.Linear(5, 3), nn.Sigmoid()).double()
    x = torch.rand(3, 1, 28, 28, dtype=torch.float64)
    w = enc[1].weight
    (grad,) = torch.autograd.grad(frobenius_exact(enc, x).mean(), w)
    eps = 1e-6
    for i, j in [(0, 0), (2, 100), (4, 783)]:
        with torch.no_grad():
            w[i, j] += eps
            up = frobenius_exact(enc, x).mean().item()
            w[i, j] -= 2 * eps
            down = frobenius_exact(enc, x).mean().item()
            w[i, j] += eps
        assert grad[i, j].item() == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-10)


def test_hutchinson_gradient_finite_differences():
    """With a fixed probe the estimate is a deterministic function; its gradient must match FD."""
    torch.manual_seed(5)
    enc = nn.Sequential(nn.Flatten(), nn.Linear(784, 4), nn.Sigmoid()).double()
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    w = enc[1].weight

    def value():
        xr = x.clone().requires_grad_(True)
        return frobenius_hutchinson(enc(xr), xr, 2, torch.Generator().manual_seed(9)).mean()

    (grad,) = torch.autograd.grad(value(), w)
    eps = 1e-6
    for i, j in [(0, 5), (3, 400)]:
        with torch.no_grad():
            w[i, j] += eps
        up = value().item()
        with torch.no_grad():
            w[i, j] -= 2 * eps
        down = value().item()
        with torch.no_grad():
            w[i, j] += eps
        assert grad[i, j].item() == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-10)


def test_closed_form_needs_single_sigmoid_layer():
    with pytest.raises(ConfigError, match="closed_form"):
        Contractive(1.0, mode="closed_form").check(build_net("unet"), "sigmoid")
    with pytest.raises(ConfigError, match="probes"):
        Contractive(1.0, mode="hutchinson", probes=0)


def test_subset_estimator_is_unbiased_for_the_batch_mean():
    """m = 1: the mean over every possible draw is exactly the batch mean; m >= B is exact itself."""
    torch.manual_seed(6)
    net = build_net("unet", widths=[3, 4, 4], latent_dim=5).double()
    x = torch.rand(6, 1, 28, 28, dtype=torch.float64)
    exact = frobenius_exact(net.encoder, x)  # (6,)
    reg_all = Contractive(1.0, samples=6)
    assert reg_all(net, x, None, torch.Generator().manual_seed(0)).item() == pytest.approx(exact.mean().item(),
                                                                                          rel=1e-12)
    reg1 = Contractive(1.0, samples=1)
    seen = {}
    for s in range(200):  # draws land on each sample; the values are exactly the per-sample penalties
        v = reg1(net, x, None, torch.Generator().manual_seed(s)).item()
        seen[round(v, 12)] = v
    assert sorted(seen.values()) == pytest.approx(sorted(exact.tolist()), rel=1e-12)
    assert sum(seen.values()) / 6 == pytest.approx(exact.mean().item(), rel=1e-12)


def test_subset_estimator_gradient_averages_to_exact():
    torch.manual_seed(7)
    enc = nn.Sequential(nn.Flatten(), nn.Linear(784, 6), nn.Tanh(), nn.Linear(6, 4), nn.Sigmoid()).double()
    net = type("Net", (), {"encoder": enc})()
    x = torch.rand(8, 1, 28, 28, dtype=torch.float64)
    w = enc[1].weight
    (g_exact,) = torch.autograd.grad(frobenius_exact(enc, x).mean(), w)
    reg = Contractive(1.0, samples=2)
    grads = [torch.autograd.grad(reg(net, x, None, torch.Generator().manual_seed(s)), w)[0] for s in range(3000)]
    mean = torch.stack(grads).mean(0)
    assert (mean - g_exact).norm() / g_exact.norm() < 0.05  # Monte Carlo error of 3000 draws
    assert (grads[0] - g_exact).norm() / g_exact.norm() > 0.05  # a single draw is noisy


def test_subset_needs_plain_exact_mode():
    with pytest.raises(ConfigError, match="samples"):
        Contractive(1.0, samples=0)
    with pytest.raises(ConfigError, match="needs mode 'exact'"):
        Contractive(1.0, mode="hutchinson", samples=8)
    with pytest.raises(ConfigError, match="needs mode 'exact'"):
        Contractive(1.0, samples=8, reuse_forward=True)
    with pytest.raises(ConfigError, match="chunk_size"):
        Contractive(1.0, chunk_size="big")

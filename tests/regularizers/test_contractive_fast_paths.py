"""The fast paths of the contractive penalty compute the same numbers as the naive ones.

Every exact formulation the benchmarks time — naive per-sample ``vmap(jacrev)``, the hand
loop of d autograd VJPs, ``torch.func`` ``frobenius_exact`` at every chunking, the VJPs
on the training graph at every chunking, and the ``Contractive`` regularizer inside
``AutoEncoder._shared_step`` — must give the same per-sample values and the same
gradients w.r.t. the parameters (float64, so agreement is to ~1e-10). Hutchinson
averaged over many probes must land within a few % of exact. No timings here: those live
in benchmarks/.
"""

import pytest
import torch

from regae import AutoEncoder
from regae.errors import ConfigError
from regae.nets import build_net
from regae.regularizers import Contractive
from regae.regularizers.contractive import (
    CPU_CHUNK,
    frobenius_exact,
    frobenius_exact_from_graph,
    frobenius_hand_loop,
    frobenius_hutchinson,
    frobenius_per_sample,
    resolve_chunk,
)

D = 6  # latent size of the small U-Net



@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    net = build_net("unet", widths=[3, 4, 4], latent_dim=D).double()
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    return net, x


def value_and_grads(net, fn):
    """Per-sample values of fn() and d(mean)/d(encoder parameters), flattened."""
    net.zero_grad(set_to_none=True)
    values = fn()
    params = list(net.encoder.parameters())
    grads = torch.autograd.grad(values.mean(), params)
    return values.detach(), torch.cat([g.flatten() for g in grads])


def formulations(net, x):
    enc = net.encoder

    def on_graph(chunk):
        def fn():
            xr = x.clone().requires_grad_(True)
            return frobenius_exact_from_graph(enc(xr), xr, chunk)
        return fn

    def hand():
        xr = x.clone().requires_grad_(True)
        return frobenius_hand_loop(enc(xr), xr)

    out = {"naive": lambda: frobenius_per_sample(enc, x), "hand": hand}
    for chunk in (1, 4, None):
        out[f"func c={chunk}"] = lambda c=chunk: frobenius_exact(enc, x, c)
        out[f"graph c={chunk}"] = on_graph(chunk)
    return out


def test_all_exact_formulations_agree_in_value_and_gradient(small):
    net, x = small
    forms = formulations(net, x)
    ref_v, ref_g = value_and_grads(net, forms.pop("naive"))
    assert ref_v.shape == (2,) and (ref_v > 0).all()
    assert ref_g.abs().max() > 0  # the penalty does depend on the parameters
    for name, fn in forms.items():
        v, g = value_and_grads(net, fn)
        assert torch.allclose(v, ref_v, rtol=1e-10, atol=0), name
        assert torch.allclose(g, ref_g, rtol=1e-8, atol=1e-14 * ref_g.abs().max().item()), name


def test_naive_equals_a_jacobian_built_one_sample_one_unit_at_a_time(small):
    """Anchor the reference itself: ‖J‖²_F from d×B separate scalar gradients."""
    net, x = small
    expected = []
    for xi in x:
        xi = xi.unsqueeze(0).clone().requires_grad_(True)
        h = net.encoder(xi)[0]
        rows = [torch.autograd.grad(h[k], xi, retain_graph=True)[0] for k in range(D)]
        expected.append(torch.stack(rows).pow(2).sum())
    assert torch.allclose(frobenius_per_sample(net.encoder, x).detach(), torch.stack(expected), rtol=1e-10)


def training_step_grads(reg_spec, x):
    torch.manual_seed(1)
    model = AutoEncoder(arch="unet", widths=[3, 4, 4], latent_dim=D, regularizers=[reg_spec]).double()
    loss, _, terms = model._shared_step((x, None), "train")
    loss.backward()
    grads = torch.cat([p.grad.flatten() for p in model.parameters()])
    return terms["reg/contractive"].detach(), loss.detach(), grads


@pytest.mark.parametrize("chunk_size", [1, 4, None])
def test_training_step_same_with_and_without_reusing_the_forward(small, chunk_size):
    _, x = small
    spec = {"name": "contractive", "weight": 10.0, "mode": "exact", "chunk_size": chunk_size}
    pen_reuse, loss_reuse, g_reuse = training_step_grads({**spec, "reuse_forward": True}, x)
    pen_func, loss_func, g_func = training_step_grads({**spec, "reuse_forward": False}, x)
    assert torch.allclose(pen_reuse, pen_func, rtol=1e-10)
    assert torch.allclose(loss_reuse, loss_func, rtol=1e-12)
    assert torch.allclose(g_reuse, g_func, rtol=1e-7, atol=1e-10 * g_func.abs().max().item())


def test_default_exact_is_torch_func_with_auto_chunks():
    reg = Contractive(1.0)
    assert reg.mode == "exact" and not reg.reuse_forward and not reg.needs_input_grad
    assert reg.chunk_size == "auto" and reg.samples is None
    assert Contractive(1.0, reuse_forward=True).needs_input_grad
    assert resolve_chunk("auto", torch.device("cpu")) == CPU_CHUNK
    assert resolve_chunk("auto", torch.device("cuda")) is None  # all d at once on a GPU
    assert resolve_chunk(4, torch.device("cuda")) == 4
    with pytest.raises(ConfigError, match="reuse_forward"):
        Contractive(1.0, reuse_forward="yes")


def test_regularizer_falls_back_to_torch_func_without_input_grad(small):
    """Called on an x that does not require grad (e.g. from analysis code), it still is exact."""
    net, x = small
    with torch.no_grad():
        h = net.encode(x)
    got = Contractive(1.0)(net, x, h)
    assert torch.allclose(got, frobenius_exact(net.encoder, x).mean(), rtol=1e-12)


def test_from_graph_needs_a_graph(small):
    net, x = small
    with pytest.raises(ValueError, match="requires grad"):
        frobenius_exact_from_graph(net.encode(x), x)


def test_hutchinson_average_matches_exact_within_a_few_percent(small):
    net, x = small
    exact = frobenius_exact(net.encoder, x).detach()  # (B,)
    # Samples are independent, so R copies of the batch with 2 probes each are 2R
    # independent one-probe estimates per sample, from 2 VJPs.
    replicas = 3000
    xr = x.repeat(replicas, 1, 1, 1).requires_grad_(True)  # (R*B, 1, 28, 28)
    g = torch.Generator().manual_seed(0)
    est = frobenius_hutchinson(net.encoder(xr), xr, probes=2, generator=g).detach().view(replicas, -1)
    assert torch.allclose(est.mean(0), exact, rtol=0.05)
    assert (est.std(0) > 0.05 * exact).all()  # while a single probe really is noisy

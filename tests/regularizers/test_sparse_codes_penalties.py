"""regae.regularizers.decoder_l1 and regae.regularizers.auxk: L1 that rescaling cannot cheat, and AuxK."""

import pytest
import torch

from regae import AutoEncoder
from regae.errors import ConfigError
from regae.nets.codes import sparse_code
from regae.regularizers.auxk import AuxK
from regae.regularizers.decoder_l1 import decoder_norm_l1, decoder_weight
from regae.regularizers.sparsity import l1_activity


def test_decoder_norm_l1_by_hand():
    h = torch.tensor([[1.0, -2.0], [0.0, 3.0]])
    w = torch.tensor([[3.0, 0.0], [4.0, 1.0]])  # column norms 5 and 1
    assert decoder_norm_l1(h, w).item() == pytest.approx(((1 * 5 + 2 * 1) + (0 + 3 * 1)) / 2)


def test_rescaling_the_code_by_c_and_the_decoder_by_1_over_c_changes_l1_but_not_the_decoder_norm_l1():
    torch.manual_seed(0)
    model = AutoEncoder(arch="mlp", widths=[], latent_dim=6, latent_activation="relu")
    x = torch.rand(5, 1, 28, 28)
    enc = model.net.encoder[1]
    with torch.no_grad():
        dec = next(m for m in model.net.decoder.modules() if isinstance(m, torch.nn.Linear))
        before = model(x)
        l1, dnl1 = l1_activity(before.h).item(), decoder_norm_l1(before.h, decoder_weight(model.net)).item()
        c = 7.0
        enc.weight.mul_(c), enc.bias.mul_(c)  # ReLU(c z) = c ReLU(z): h -> c h
        dec.weight.div_(c)  # W_dec -> W_dec / c: the reconstruction is the same
        after = model(x)
    assert torch.allclose(after.x_hat, before.x_hat, atol=1e-6) and torch.allclose(after.h, c * before.h, rtol=1e-4, atol=1e-6)
    assert l1_activity(after.h).item() == pytest.approx(c * l1, rel=1e-5)  # plain L1 is cheated
    assert decoder_norm_l1(after.h, decoder_weight(model.net)).item() == pytest.approx(dnl1, rel=1e-5)


def test_decoder_norm_l1_reads_the_tied_weight_and_refuses_a_conv_code():
    tied = AutoEncoder(arch="mlp", widths=[], latent_dim=6, tied=True, regularizers=[{"name": "l1_decoder_norm", "weight": 1}])
    assert torch.equal(decoder_weight(tied.net), tied.net.encoder[1].weight.t())
    with pytest.raises(ConfigError, match="first layer is linear in the code"):
        AutoEncoder(arch="conv", widths=[4, 4, 4], regularizers=[{"name": "l1_decoder_norm", "weight": 1}])


def auxk_model(k=2, d=8):
    return AutoEncoder(arch="mlp", widths=[], latent_dim=d, latent_activation=f"topk:{k}",
                       regularizers=[{"name": "auxk", "weight": 1.0, "k_aux": 2, "window": 3}])


def test_auxk_is_zero_without_dead_units_and_positive_with_them():
    torch.manual_seed(0)
    model = auxk_model()
    x = torch.rand(4, 1, 28, 28)
    _, _, terms = model._shared_step((x, None), "train")
    assert terms["reg/auxk"].item() == 0.0  # no unit has missed 3 steps yet
    code = sparse_code(model.net)
    code.steps_since_fired[:4] = 10  # four units dead
    _, out, terms = model._shared_step((x, None), "train")
    assert terms["reg/auxk"].item() > 0
    assert AuxK(1.0, k_aux=2, window=3).from_output(model.net, x, out).item() == pytest.approx(terms["reg/auxk"].item())


def test_auxk_needs_a_sparse_code():
    with pytest.raises(ConfigError, match="auxk revives dead units of a sparse code"):
        AutoEncoder(arch="mlp", widths=[], latent_dim=8, regularizers=[{"name": "auxk", "weight": 1.0}])


def test_auxk_revives_units_a_plain_topk_run_leaves_dead():
    """topk:2 of 16 units on MNIST, the same start and batches: the plain run ends with most units
    dead (never active on its 512 images); with AuxK (window 20 steps) several of those fire again."""
    from regae.data import load_split
    from regae.data.dataset import to_float

    x = to_float(load_split("train").images[:512])

    def train(with_auxk: bool) -> torch.Tensor:
        torch.manual_seed(1)
        regs = [{"name": "auxk", "weight": 1.0, "k_aux": 4, "window": 20}] if with_auxk else []
        model = AutoEncoder(arch="mlp", widths=[], latent_dim=16, latent_activation="topk:2", regularizers=regs)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        for step in range(200):
            loss = model._shared_step((x[(step * 32) % 512:][:32], None), "train")[0]
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        return (model.encode(x) > 0).any(0)  # (16,) alive units

    plain, auxk = train(False), train(True)
    dead_plain = ~plain
    assert int(dead_plain.sum()) >= 8  # topk's dead units, without care
    assert int((auxk & dead_plain).sum()) >= 2, (plain.tolist(), auxk.tolist())  # revived

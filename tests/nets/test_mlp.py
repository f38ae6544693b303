"""regae.nets.mlp: the tied one-layer autoencoder of the CAE and DAE papers."""

import pytest
import torch

from regae import AutoEncoder
from regae.errors import ConfigError
from regae.nets import build_net
from regae.regularizers.contractive import frobenius_exact, frobenius_sigmoid_layer


def test_the_tied_decoder_is_the_encoder_weight_transposed():
    net = build_net("mlp", latent_dim=7, widths=[], tied=True)
    assert sorted(n for n, _ in net.named_parameters()) == ["decoder.bias", "encoder.1.bias", "encoder.1.weight"]
    x = torch.rand(5, 1, 28, 28)
    w, b = net.encoder[1].weight, net.encoder[1].bias  # (7, 784), (7,)
    h = torch.sigmoid(x.flatten(1) @ w.T + b)
    x_hat = torch.sigmoid(h @ w + net.decoder.bias).view(5, 1, 28, 28)
    out = net(x)
    assert torch.allclose(out.h, h, atol=1e-6) and torch.allclose(out.x_hat, x_hat, atol=1e-6)
    with torch.no_grad():
        w.mul_(2)  # one weight: the decoder sees the change too
    assert torch.allclose(net(x).x_hat, torch.sigmoid(torch.sigmoid(x.flatten(1) @ w.T + b) @ w + net.decoder.bias)
                          .view(5, 1, 28, 28), atol=1e-6)


def test_a_tied_model_trains_its_one_weight_from_both_ends_and_survives_a_checkpoint(tmp_path):
    model = AutoEncoder(arch="mlp", widths=[], latent_dim=6, tied=True, loss="bce")
    x = torch.rand(4, 1, 28, 28)
    w = model.net.encoder[1].weight
    # the shared weight's gradient is the encoder's use of it plus the decoder's (h fixed)
    h = model.encode(x)
    recon = lambda w_dec, h: torch.nn.functional.binary_cross_entropy(  # noqa: E731
        torch.sigmoid(h @ w_dec + model.net.decoder.bias).view_as(x).clamp(1e-7, 1 - 1e-7), x)
    via_decoder = torch.autograd.grad(recon(w, h.detach()), w)[0]
    via_encoder = torch.autograd.grad(recon(w.detach(), h), w)[0]
    model._shared_step((x, None), "train")[0].backward()
    assert torch.allclose(w.grad, via_decoder + via_encoder, atol=1e-7)
    torch.save({"state_dict": model.state_dict()}, tmp_path / "w.pt")
    again = AutoEncoder(arch="mlp", widths=[], latent_dim=6, tied=True, loss="bce")
    again.load_state_dict(torch.load(tmp_path / "w.pt", weights_only=True)["state_dict"])
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(again(x).x_hat, model(x).x_hat)


def test_the_closed_form_jacobian_of_a_tied_sigmoid_layer_equals_torch_func():
    model = AutoEncoder(arch="mlp", widths=[], latent_dim=20, tied=True)
    x = torch.rand(6, 1, 28, 28, dtype=torch.float64)
    model = model.double()
    h = model.encode(x)
    closed = frobenius_sigmoid_layer(model.net.encoder[1].weight, h)
    assert torch.allclose(closed, frobenius_exact(model.net.encoder, x), rtol=1e-10)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(arch="mlp", widths=[32], latent_dim=8, tied=True), "only for one layer"),
    (dict(arch="mlp", widths=[], decoder_widths=[16], latent_dim=8, tied=True), "only for one layer"),
    (dict(arch="unet", tied=True), "only with arch 'mlp'"),
])
def test_tied_is_refused_where_it_has_no_meaning(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        build_net(**kwargs)

"""Every architecture keeps the contract: flat latent, decoder output in [0, 1], 28x28."""

import pytest
import torch
from torch import nn

from regae.errors import ConfigError
from regae.nets import ARCHITECTURES, build_net
from regae.nets.conv import top_left_indices


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize(
    "arch, kwargs, d",
    [
        ("unet", {}, 32),
        ("unet", {"latent_dim": 10, "widths": [4, 8, 8]}, 10),
        ("mlp", {"widths": [512, 256, 128], "latent_dim": 30, "decoder_widths": [128, 256]}, 30),
        ("mlp", {"widths": [64], "latent_dim": 8}, 8),
        ("mlp", {"widths": [], "latent_dim": 32}, 32),
        ("mlp", {"widths": [], "latent_dim": 1156, "latent_activation": "relu"}, 1156),
        ("conv", {"decoder": "unpool"}, 144),
        ("conv", {"decoder": "deconv"}, 144),
        ("conv", {"decoder": "both"}, 144),
    ],
)
def test_contract(arch, kwargs, d):
    net = build_net(arch, **kwargs)
    x = torch.rand(3, 1, 28, 28)
    out = net(x)
    assert out.h.shape == (3, d) and net.latent_dim == d
    assert out.x_hat.shape == (3, 1, 28, 28)
    assert 0 <= out.x_hat.min() and out.x_hat.max() <= 1
    assert net.decode(out.h).shape == (3, 1, 28, 28)


def test_mlp_layer_sizes():
    net = build_net("mlp", widths=[512, 256, 128], latent_dim=30, decoder_widths=[128, 256])
    enc = [(m.in_features, m.out_features) for m in net.encoder.modules() if isinstance(m, nn.Linear)]
    dec = [(m.in_features, m.out_features) for m in net.decoder.modules() if isinstance(m, nn.Linear)]
    assert enc == [(784, 512), (512, 256), (256, 128), (128, 30)]
    assert dec == [(30, 128), (128, 256), (256, 784)]
    shallow = build_net("mlp", widths=[], latent_dim=32)
    assert n_params(shallow) == 784 * 32 + 32 + 32 * 784 + 784


def test_unet_has_no_skip_path():
    """The output depends on the input only through h: equal latents give equal outputs."""
    net = build_net("unet", widths=[4, 8, 8], latent_dim=6)
    x = torch.rand(2, 1, 28, 28)
    h = net.encode(x)
    assert torch.equal(net(x).x_hat, net.decode(h))
    assert not any(isinstance(m, nn.Identity) for m in net.decoder.modules())


def test_unpool_uses_encoder_indices():
    net = build_net("conv", decoder="unpool")
    x = torch.rand(2, 1, 28, 28)
    h, idx = net.encoder.features(x)
    assert [tuple(i.shape[-2:]) for i in idx] == [(14, 14), (7, 7), (3, 3)]
    assert torch.equal(net(x).x_hat, net.decode(h, idx))
    assert not torch.equal(net(x).x_hat, net.decode(h))  # default indices differ from the input's


def test_top_left_indices():
    idx = top_left_indices(1, 1, 4, 2, torch.device("cpu"))
    assert idx[0, 0].tolist() == [[0, 2], [8, 10]]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"arch": "resnet"}, "Expected `arch` in"),
        ({"arch": "unet", "latent_dim": 0}, "latent_dim"),
        ({"arch": "unet", "widths": [4, 8]}, "widths"),
        ({"arch": "unet", "widths": [4, 8, 8, 8]}, "exactly 3"),
        ({"arch": "mlp", "widths": [64, -1]}, "positive integers"),
        ({"arch": "mlp", "latent_activation": "tanh"}, "latent_activation"),
        ({"arch": "conv", "decoder": "pixelshuffle"}, "decoder"),
        ({"arch": "conv", "latent_dim": 32}, "latent_dim"),
    ],
)
def test_bad_configs(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        build_net(**kwargs)


def test_registry_names():
    assert {"unet", "mlp", "conv"} <= set(ARCHITECTURES)

"""Every architecture keeps the contract for any (C, H, W): flat latent, decoder output in [0, 1] of the input's shape."""

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
        ({"arch": "unet", "widths": [4]}, "widths"),
        ({"arch": "unet", "widths": [2] * 6}, "input 28x28 is too small for unet with 5 2x2 poolings"),
        ({"arch": "conv", "input_shape": (1, 7, 64)}, "input 7x64 is too small for conv with 3 2x2 poolings"),
        ({"arch": "conv", "widths": [4, 8, 8, 8]}, "exactly 3"),
        ({"arch": "mlp", "input_shape": (3, 32)}, "input_shape"),
        ({"arch": "mlp", "input_shape": (0, 32, 32)}, "input_shape"),
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


SHAPES = [(3, 32, 32), (1, 48, 48), (1, 28, 20), (3, 30, 17), (4, 8, 8)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "arch, kwargs",
    [("unet", {"widths": [4, 8, 8]}), ("unet", {"widths": [4, 8]}), ("mlp", {"widths": [16]}), ("vae", {"widths": [16]}),
     ("conv", {"decoder": "unpool"}), ("conv", {"decoder": "deconv"}), ("conv", {"decoder": "both"})],
)
def test_contract_for_any_shape(arch, kwargs, shape):
    torch.manual_seed(0)
    net = build_net(arch, latent_dim=None, input_shape=shape, **kwargs)
    x = torch.rand(2, *shape)
    out = net(x)
    assert net.input_shape == shape
    assert out.x_hat.shape == (2, *shape) and out.h.shape == (2, net.latent_dim)
    assert 0 <= out.x_hat.min() and out.x_hat.max() <= 1
    assert net.decode(out.h).shape == (2, *shape)


def test_sizes_follow_the_input():
    unet = build_net("unet", widths=[4, 8, 16, 16], latent_dim=5, input_shape=(3, 64, 48))  # 64x48 -> 8x6
    assert unet.encoder.project.in_features == 16 * 8 * 6
    assert [m.out_channels for m in unet.decoder.up if isinstance(m, nn.Conv2d)][-1] == 3
    conv = build_net("conv", input_shape=(3, 32, 32))  # 32 -> 16 -> 8 -> 4
    assert conv.latent_dim == 16 * 4 * 4
    odd = build_net("conv", decoder="deconv", input_shape=(1, 30, 17))  # 30x17 -> 15x8 -> 7x4 -> 3x2
    assert [tuple(u.kernel_size) for u in odd.decoder.ups] == [(3, 2), (3, 2), (2, 3)]
    mlp = build_net("mlp", widths=[], latent_dim=7, input_shape=(3, 10, 12))
    assert n_params(mlp) == 360 * 7 + 7 + 7 * 360 + 360


def test_mnist_nets_are_unchanged():
    """The default shape builds exactly the nets MNIST checkpoints were made with (same names, shapes, init)."""
    expected = {  # parameter shapes of the seed U-Net before input shapes existed
        "encoder.features.0.0.weight": (16, 1, 3, 3), "encoder.features.4.3.weight": (64, 64, 3, 3),
        "encoder.project.weight": (32, 64 * 7 * 7), "decoder.unproject.0.weight": (64 * 7 * 7, 32),
        "decoder.up.0.weight": (64, 32, 2, 2), "decoder.up.4.weight": (1, 16, 1, 1),
    }
    torch.manual_seed(0)
    net = build_net("unet")
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert all(shapes[k] == v for k, v in expected.items()) and len(shapes) == 42
    torch.manual_seed(0)
    same = build_net("unet", input_shape=(1, 28, 28))
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), same.state_dict().values()))
    deconv = build_net("conv", decoder="deconv")
    assert [tuple(u.kernel_size) for u in deconv.decoder.ups] == [(3, 3), (2, 2), (2, 2)]  # 3 -> 7 -> 14 -> 28


def test_unet_no_skip_path_on_rgb():
    net = build_net("unet", widths=[4, 8, 8], latent_dim=6, input_shape=(3, 30, 22))
    x = torch.rand(2, 3, 30, 22)
    assert torch.equal(net(x).x_hat, net.decode(net.encode(x)))

"""Fully connected autoencoders with configurable widths.

``widths`` are the encoder's hidden layers between the n = C·H·W inputs (784 on MNIST) and
the latent; ``decoder_widths`` the decoder's between the latent and the n outputs (default:
the encoder's, reversed). Examples on MNIST: 784-512-256-128-30 / 30-128-256-784 is
``widths=[512, 256, 128], latent_dim=30, decoder_widths=[128, 256]``; 784-32-784 is
``widths=[], latent_dim=32``.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from regae.nets.base import DEFAULT_INPUT_SHAPE, AENet, check_input_shape, check_widths, latent_activation


def mlp(sizes: list[int]) -> list[nn.Module]:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU(inplace=True))
    return layers


class MLPEncoder(nn.Sequential):
    def __init__(self, widths: tuple[int, ...], latent_dim: int, activation: str,
                 input_shape: tuple[int, int, int] = DEFAULT_INPUT_SHAPE) -> None:
        n = math.prod(input_shape)
        super().__init__(nn.Flatten(), *mlp([n, *widths, latent_dim]), latent_activation(activation))


class MLPDecoder(nn.Module):
    def __init__(self, widths: tuple[int, ...], latent_dim: int,
                 input_shape: tuple[int, int, int] = DEFAULT_INPUT_SHAPE) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.net = nn.Sequential(*mlp([latent_dim, *widths, math.prod(input_shape)]), nn.Sigmoid())

    def forward(self, h: Tensor) -> Tensor:
        return self.net(h).view(-1, *self.input_shape)  # (B, C, H, W)


def build_mlp(
    latent_dim: int | None = None,
    widths: list[int] | None = None,
    decoder_widths: list[int] | None = None,
    latent_activation: str = "sigmoid",
    input_shape: tuple[int, int, int] | None = None,
    **unused: object,
) -> AENet:
    d = 32 if latent_dim is None else latent_dim
    enc = check_widths("widths", widths if widths is not None else ())
    dec = check_widths("decoder_widths", decoder_widths) if decoder_widths is not None else enc[::-1]
    shape = check_input_shape(input_shape)
    return AENet(MLPEncoder(enc, d, latent_activation, shape), MLPDecoder(dec, d, shape), d, shape)

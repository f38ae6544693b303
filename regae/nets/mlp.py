"""Fully connected autoencoders with configurable widths.

``widths`` are the encoder's hidden layers between the n = C·H·W inputs (784 on MNIST) and
the latent; ``decoder_widths`` the decoder's between the latent and the n outputs (default:
the encoder's, reversed). Examples on MNIST: 784-512-256-128-30 / 30-128-256-784 is
``widths=[512, 256, 128], latent_dim=30, decoder_widths=[128, 256]``; 784-32-784 is
``widths=[], latent_dim=32``. Hidden layers are ReLU, or logistic with ``hidden_activation="sigmoid"``
(Hinton & Salakhutdinov 2006's units).

``tied=True`` (one layer only) gives the classical auto-encoder of Vincent et al. 2008 and Rifai
et al. 2011, whose decoder reuses the encoder's weight, transposed::

    h = s(W x + b),   x̂ = sigmoid(Wᵀ h + b'),   W: (d, n), shared; b' the decoder's own bias
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from regae.errors import ConfigError
from regae.nets.base import DEFAULT_INPUT_SHAPE, AENet, check_input_shape, check_widths, latent_activation

#: the activation between hidden layers: ReLU (the default), or the logistic units of Hinton & Salakhutdinov 2006
HIDDEN_ACTIVATIONS = {"relu": lambda: nn.ReLU(inplace=True), "sigmoid": nn.Sigmoid}


def mlp(sizes: list[int], hidden: str = "relu") -> list[nn.Module]:
    """Linear layers with the ``hidden`` activation between them (none after the last)."""
    if hidden not in HIDDEN_ACTIVATIONS:
        raise ConfigError(f"Expected `hidden_activation` in {sorted(HIDDEN_ACTIVATIONS)}, got {hidden!r}.")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(HIDDEN_ACTIVATIONS[hidden]())
    return layers


class MLPEncoder(nn.Sequential):
    def __init__(self, widths: tuple[int, ...], latent_dim: int, activation: str,
                 input_shape: tuple[int, int, int] = DEFAULT_INPUT_SHAPE, hidden: str = "relu") -> None:
        n = math.prod(input_shape)
        super().__init__(nn.Flatten(), *mlp([n, *widths, latent_dim], hidden), latent_activation(activation, latent_dim))


class MLPDecoder(nn.Module):
    def __init__(self, widths: tuple[int, ...], latent_dim: int,
                 input_shape: tuple[int, int, int] = DEFAULT_INPUT_SHAPE, hidden: str = "relu") -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.net = nn.Sequential(*mlp([latent_dim, *widths, math.prod(input_shape)], hidden), nn.Sigmoid())

    def forward(self, h: Tensor) -> Tensor:
        return self.net(h).view(-1, *self.input_shape)  # (B, C, H, W)


class TiedDecoder(nn.Module):
    """x̂ = sigmoid(Wᵀ h + b') with W the encoder layer's weight (not a parameter of its own)."""

    def __init__(self, encoder_layer: nn.Linear, input_shape: tuple[int, int, int] = DEFAULT_INPUT_SHAPE) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        self._encoder = (encoder_layer,)  # a tuple, not a submodule: the weight is stored (and moved) once, with the encoder
        self.bias = nn.Parameter(torch.zeros(encoder_layer.in_features))

    def forward(self, h: Tensor) -> Tensor:
        return torch.sigmoid(F.linear(h, self._encoder[0].weight.t(), self.bias)).view(-1, *self.input_shape)  # (B, C, H, W)


def build_mlp(
    latent_dim: int | None = None,
    widths: list[int] | None = None,
    decoder_widths: list[int] | None = None,
    latent_activation: str = "sigmoid",
    input_shape: tuple[int, int, int] | None = None,
    tied: bool = False,
    hidden_activation: str = "relu",
    **unused: object,
) -> AENet:
    d = 32 if latent_dim is None else latent_dim
    enc = check_widths("widths", widths if widths is not None else ())
    dec = check_widths("decoder_widths", decoder_widths) if decoder_widths is not None else enc[::-1]
    shape = check_input_shape(input_shape)
    encoder = MLPEncoder(enc, d, latent_activation, shape, hidden_activation)
    if not tied:
        return AENet(encoder, MLPDecoder(dec, d, shape, hidden_activation), d, shape)
    if enc or dec:
        raise ConfigError(f"Expected `tied` only for one layer (widths=[], decoder_widths=[]), got widths={list(enc)}, "
                          f"decoder_widths={list(dec)}.")
    return AENet(encoder, TiedDecoder(encoder[1], shape), d, shape)

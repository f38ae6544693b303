"""What every architecture shares: an input shape (C, H, W), a flat latent, a decoder output in [0, 1]."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from regae.errors import ConfigError
from regae.nets.codes import CODES, build_code

LATENT_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "none": nn.Identity}


#: the shape every net is built for unless told otherwise: MNIST's
DEFAULT_INPUT_SHAPE = (1, 28, 28)


class AEOutput(NamedTuple):
    x_hat: Tensor  # (B, C, H, W) in [0, 1]
    h: Tensor  # (B, d)


def check_input_shape(input_shape: tuple[int, ...] | list[int] | None) -> tuple[int, int, int]:
    """(C, H, W) as a tuple of three positive ints; None: (1, 28, 28)."""
    if input_shape is None:
        return DEFAULT_INPUT_SHAPE
    shape = tuple(input_shape)
    if len(shape) != 3 or any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in shape):
        raise ConfigError(f"Expected `input_shape` as (C, H, W), three positive integers, got {input_shape!r}.")
    return shape  # type: ignore[return-value]


def halvings(input_shape: tuple[int, int, int], levels: int, arch: str) -> list[tuple[int, int]]:
    """Spatial sizes (H, W) after 0..levels 2x2 max-pools (floor), or ConfigError if one reaches 0."""
    _, h, w = input_shape
    sizes = [(h, w)]
    for _ in range(levels):
        h, w = h // 2, w // 2
        sizes.append((h, w))
    if min(sizes[-1]) < 1:
        need = 2**levels
        raise ConfigError(
            f"input {input_shape[1]}x{input_shape[2]} is too small for {arch} with {levels} 2x2 poolings "
            f"(needs at least {need}x{need}); use fewer `widths` or a larger --data.image_size."
        )
    return sizes


def latent_activation(name: str, latent_dim: int | None = None) -> nn.Module:
    """The module a ``latent_activation`` names: ``sigmoid``, ``relu``, ``none``, or a sparse code
    that sets L0 directly, ``topk:K`` / ``batch_topk:K`` with options (:mod:`regae.nets.codes`)."""
    if isinstance(name, str) and name.partition(":")[0] in CODES:
        if latent_dim is None:
            raise ConfigError(f"`latent_activation` {name!r} needs the latent size.")
        return build_code(name, latent_dim)
    if name not in LATENT_ACTIVATIONS:
        raise ConfigError(f"Expected `latent_activation` in {sorted(LATENT_ACTIVATIONS)} or topk:K / batch_topk:K, "
                          f"got {name!r}.")
    return LATENT_ACTIVATIONS[name]()


def check_widths(name: str, widths: list[int] | tuple[int, ...], min_len: int = 0) -> tuple[int, ...]:
    widths = tuple(widths)
    if len(widths) < min_len or any((not isinstance(w, int)) or w < 1 for w in widths):
        raise ConfigError(f"Expected `{name}` as {min_len}+ positive integers, got {list(widths)}.")
    return widths


class AENet(nn.Module):
    """encoder(x (B,C,H,W)) -> h (B,d); decoder(h) -> x_hat (B,C,H,W) in [0, 1]."""

    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, latent_dim: int,
        input_shape: tuple[int, int, int] = DEFAULT_INPUT_SHAPE,
    ) -> None:
        super().__init__()
        self.encoder, self.decoder, self.latent_dim = encoder, decoder, latent_dim
        self.input_shape = tuple(input_shape)

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def decode(self, h: Tensor) -> Tensor:
        return self.decoder(h)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> AEOutput:
        """x (B, C, H, W) -> (x_hat, h); ``generator`` feeds nets that sample (the VAE), others ignore it."""
        h = self.encode(x)
        return AEOutput(self.decode(h), h)

"""What every architecture shares: a flat latent and a decoder output in [0, 1]."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from regae.errors import ConfigError

LATENT_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "none": nn.Identity}


class AEOutput(NamedTuple):
    x_hat: Tensor  # (B, 1, 28, 28) in [0, 1]
    h: Tensor  # (B, d)


def latent_activation(name: str) -> nn.Module:
    if name not in LATENT_ACTIVATIONS:
        raise ConfigError(f"Expected `latent_activation` in {sorted(LATENT_ACTIVATIONS)}, got {name!r}.")
    return LATENT_ACTIVATIONS[name]()


def check_widths(name: str, widths: list[int] | tuple[int, ...], min_len: int = 0) -> tuple[int, ...]:
    widths = tuple(widths)
    if len(widths) < min_len or any((not isinstance(w, int)) or w < 1 for w in widths):
        raise ConfigError(f"Expected `{name}` as {min_len}+ positive integers, got {list(widths)}.")
    return widths


class AENet(nn.Module):
    """encoder(x (B,1,28,28)) -> h (B,d); decoder(h) -> x_hat (B,1,28,28) in [0, 1]."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int) -> None:
        super().__init__()
        self.encoder, self.decoder, self.latent_dim = encoder, decoder, latent_dim

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def decode(self, h: Tensor) -> Tensor:
        return self.decoder(h)

    def forward(self, x: Tensor) -> AEOutput:
        h = self.encode(x)
        return AEOutput(self.decode(h), h)

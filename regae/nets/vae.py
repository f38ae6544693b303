"""A fully connected variational autoencoder with a reparameterised Gaussian latent.

Encoder: x -> MLP -> (μ, log σ²), both (B, d); the posterior is q(z|x) = N(μ, diag σ²).
Training draws z = μ + σ ⊙ ε, ε ~ N(0, I) (the reparameterisation trick, so gradients
flow to μ and σ); evaluation uses z = μ. ``encode(x)`` returns μ, the deterministic code
that t-SNE, interpolation and the classifiers see, so the VAE fits the flat-latent
contract of every other architecture. The forward returns a :class:`VAEOutput`, an
``AEOutput`` (x_hat, h = z) plus the posterior's (μ, log σ²), so the KL term to the prior
N(0, I), a regularizer (:class:`regae.regularizers.vae.GaussianKL`), needs no second encoder
pass (it falls back to :meth:`VAENet.posterior` when given only x).

Training noise ε comes from the ``generator`` the forward is given: in training the model's
per-step generator (a function of seed and global step), so a resumed run draws the noise an
uninterrupted one would; without one, from torch's global generator.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from regae.errors import ConfigError
from regae.nets.base import DEFAULT_INPUT_SHAPE, AENet, check_input_shape, check_widths
from regae.nets.mlp import MLPDecoder, mlp


class VAEOutput(NamedTuple):
    """:class:`~regae.nets.AEOutput`'s fields first (same names and order), then the posterior."""

    x_hat: Tensor  # (B, C, H, W) in [0, 1]
    h: Tensor  # (B, d): z = μ + σ ε in training mode, μ in eval mode
    mu: Tensor  # (B, d)
    logvar: Tensor  # (B, d)


class VAEEncoder(nn.Module):
    """x (B,C,H,W) -> μ (B,d); :meth:`stats` gives (μ, log σ²)."""

    def __init__(self, widths: tuple[int, ...], latent_dim: int,
                 input_shape: tuple[int, int, int] = DEFAULT_INPUT_SHAPE) -> None:
        super().__init__()
        n = math.prod(input_shape)
        self.body = nn.Sequential(nn.Flatten(), *mlp([n, *widths]), nn.ReLU()) if widths else nn.Flatten()
        self.head = nn.Linear(widths[-1] if widths else n, 2 * latent_dim)
        self.latent_dim = latent_dim

    def stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.head(self.body(x)).chunk(2, dim=1)  # (B, d) each
        return mu, logvar

    def forward(self, x: Tensor) -> Tensor:
        return self.stats(x)[0]


class VAENet(AENet):
    """Samples z = μ + σ ε in training mode, uses z = μ in eval mode."""

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(μ, log σ²) of q(z|x), each (B, d)."""
        return self.encoder.stats(x)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> VAEOutput:
        mu, logvar = self.posterior(x)  # (B, d) each
        if self.training:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + torch.exp(0.5 * logvar) * eps  # (B, d)
        else:
            z = mu
        return VAEOutput(self.decode(z), z, mu, logvar)


def build_vae(
    latent_dim: int | None = None,
    widths: list[int] | None = None,
    decoder_widths: list[int] | None = None,
    latent_activation: str = "none",
    input_shape: tuple[int, int, int] | None = None,
    **unused: object,
) -> AENet:
    """n-[widths]-(μ, log σ²) / d-[decoder_widths]-n with n = C·H·W; default on MNIST
    784-512-256-(32, 32) / 32-256-512-784."""
    if latent_activation != "none":
        raise ConfigError(
            f"Expected latent_activation='none' for arch 'vae' (its latent is Gaussian), got {latent_activation!r}."
        )
    d = 32 if latent_dim is None else latent_dim
    enc = check_widths("widths", widths if widths is not None else (512, 256))
    dec = check_widths("decoder_widths", decoder_widths) if decoder_widths is not None else enc[::-1]
    shape = check_input_shape(input_shape)
    return VAENet(VAEEncoder(enc, d, shape), MLPDecoder(dec, d, shape), d, shape)

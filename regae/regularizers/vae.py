"""The VAE's KL term: KL(q(z|x) ‖ N(0, I)) for a diagonal Gaussian posterior."""

from __future__ import annotations

import torch
from torch import Tensor

from regae.errors import ConfigError
from regae.nets.base import AENet, AEOutput
from regae.regularizers.base import Regularizer


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, diag σ²) ‖ N(0, I)) = -½ Σ_j (1 + log σ_j² - μ_j² - σ_j²) per sample: (B, d) -> (B,).

    Zero exactly when μ = 0 and log σ² = 0; positive otherwise.
    """
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)


class GaussianKL(Regularizer):
    """(1/B) Σ_b KL(q(z|x_b) ‖ N(0, I)); needs a model with ``posterior(x) -> (μ, log σ²)`` (arch 'vae').

    In training it reads (μ, log σ²) from the forward's output (:meth:`from_output`); called
    with ``(model, x, h)`` alone it runs the encoder again through ``model.posterior(x)``.

    With ``loss: bce`` (the mean over 784 pixels) a weight of 1/784 makes the training loss
    the negative ELBO per pixel; larger weights give a β-VAE.
    """

    name = "vae_kl"

    def check(self, model: AENet, latent_activation: str) -> None:
        if not callable(getattr(model, "posterior", None)):
            raise ConfigError(f"regularizer 'vae_kl' needs arch 'vae' (a Gaussian encoder), got {type(model).__name__}.")

    def __call__(self, model: AENet, x: Tensor, h: Tensor, generator: torch.Generator | None = None) -> Tensor:
        mu, logvar = model.posterior(x)  # (B, d) each; one extra encoder pass
        return gaussian_kl(mu, logvar).mean()

    def from_output(self, model: AENet, x: Tensor, out: AEOutput, generator: torch.Generator | None = None) -> Tensor:
        mu, logvar = getattr(out, "mu", None), getattr(out, "logvar", None)
        if mu is None or logvar is None:
            return self(model, x, out.h, generator)
        return gaussian_kl(mu, logvar).mean()

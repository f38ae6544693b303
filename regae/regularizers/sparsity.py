"""Sparsity penalties on the latent activations h (B, d)."""

from __future__ import annotations

import torch
from torch import Tensor

from regae.errors import ConfigError
from regae.nets.base import AENet
from regae.regularizers.base import Regularizer


def l1_activity(h: Tensor) -> Tensor:
    """(1/B) Σ_b Σ_j |h_bj|: the per-sample L1 norm of the latent, averaged over the batch."""
    return h.abs().sum(dim=1).mean()


def kl_sparsity(h: Tensor, rho: float, eps: float = 1e-6) -> Tensor:
    """Σ_j KL(ρ ‖ ρ̂_j) = Σ_j ρ log(ρ/ρ̂_j) + (1-ρ) log((1-ρ)/(1-ρ̂_j)),  ρ̂_j = (1/B) Σ_b h_bj.

    ``h`` must lie in [0, 1] (a sigmoid latent); ρ̂ is clamped to [eps, 1-eps] so a
    saturated unit gives a large finite penalty rather than inf.
    """
    if h.min() < 0 or h.max() > 1:
        raise ValueError(
            f"KL sparsity needs activations in (0, 1), got range [{h.min().item():.3g}, {h.max().item():.3g}];"
            " use latent_activation='sigmoid'."
        )
    rho_hat = h.mean(dim=0).clamp(eps, 1 - eps)  # (d,)
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


class L1Sparsity(Regularizer):
    """L1 activity penalty (1/B) Σ_b Σ_j |h_bj|."""

    name = "l1"

    def __call__(self, model: AENet, x: Tensor, h: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return l1_activity(h)


class KLSparsity(Regularizer):
    """Σ_j KL(ρ ‖ ρ̂_j), ρ̂_j = mean_b h_bj: pushes each unit's mean activation toward ρ. Needs h in (0, 1)."""

    name = "kl"

    def __init__(self, weight: float, rho: float = 0.05) -> None:
        super().__init__(weight)
        if not 0 < rho < 1:
            raise ConfigError(f"Expected `rho` in (0, 1), got {rho}.")
        self.rho = float(rho)

    def check(self, model: AENet, latent_activation: str) -> None:
        if latent_activation != "sigmoid":
            raise ConfigError(
                f"KL sparsity needs a latent in (0, 1): set latent_activation='sigmoid', got {latent_activation!r}."
            )

    def __call__(self, model: AENet, x: Tensor, h: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return kl_sparsity(h, self.rho)


class WeightDecay(Regularizer):
    """Σ_W ‖W‖²_F over the weight matrices/kernels (biases excluded) of encoder and decoder."""

    name = "weight_decay"

    def __call__(self, model: AENet, x: Tensor, h: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return sum((p.pow(2).sum() for n, p in model.named_parameters() if n.endswith("weight")), h.new_zeros(()))

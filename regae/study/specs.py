"""The networks of the study as AutoEncoder keyword arguments, shared so that a model two
experiments use (e.g. the deep MLP AE) has one spec and is trained once per study run."""

from __future__ import annotations

from typing import Any

#: 784-512-256-128-30 / 30-128-256-784, ReLU, linear 30-d code (the course's deep AE).
COURSE_AE: dict[str, Any] = dict(
    arch="mlp", widths=[512, 256, 128], latent_dim=30, decoder_widths=[128, 256], latent_activation="none",
)

#: 784-1000-500-250-30 / 30-250-500-1000-784, ReLU, linear 30-d code (Hinton & Salakhutdinov 2006's shape).
HINTON_AE: dict[str, Any] = dict(
    arch="mlp", widths=[1000, 500, 250], latent_dim=30, decoder_widths=[250, 500, 1000], latent_activation="none",
)

#: The study's deep AE at 30 dimensions (PCA comparison, non-digit inputs, CNN): see ``DEEP_NAME``.
DEEP_AE: dict[str, Any] = HINTON_AE
DEEP_NAME = "deep AE 784-1000-500-250-30"

#: 784-32-784 with a sigmoid code and binary cross-entropy (the course's first AE).
SHALLOW_BCE: dict[str, Any] = dict(arch="mlp", widths=[], latent_dim=32, latent_activation="sigmoid", loss="bce")


def shallow(hidden: int) -> dict[str, Any]:
    """784-hidden-784 with a ReLU code and MSE."""
    return dict(arch="mlp", widths=[], latent_dim=hidden, latent_activation="relu")


def overcomplete(l1: float = 0.0, kl: float = 0.0, rho: float = 0.05) -> dict[str, Any]:
    """784-1156-784: ReLU code with an L1 activity penalty, or a sigmoid code with KL sparsity."""
    if kl > 0:
        return dict(arch="mlp", widths=[], latent_dim=1156, latent_activation="sigmoid",
                    regularizers=[{"name": "kl", "weight": kl, "rho": rho}])
    regs = [{"name": "l1", "weight": l1}] if l1 > 0 else None
    return dict(arch="mlp", widths=[], latent_dim=1156, latent_activation="relu", regularizers=regs)


def denoiser(corrupt: str | None = None) -> dict[str, Any]:
    """784-256-64-256-784 ReLU AE; with ``corrupt`` a denoising AE trained on that noise."""
    return dict(arch="mlp", widths=[256], latent_dim=64, latent_activation="relu", corrupt=corrupt)


#: 784-64-8-64-784, linear 8-d code.
MANIFOLD: dict[str, Any] = dict(arch="mlp", widths=[64], latent_dim=8, latent_activation="none")


def conv(decoder: str) -> dict[str, Any]:
    """The 8/16/16 conv AE with decoder ``unpool``, ``deconv`` or ``both``, trained with BCE.

    With MSE its sigmoid output collapses to black in the first steps and stays there
    (measured: MSE ~0.11 for 500 steps, for unpool and deconv); BCE does not saturate.
    """
    return dict(arch="conv", decoder=decoder, latent_activation="none", loss="bce")


#: 784-512-256-(μ, log σ²: 32) / 32-256-512-784 VAE; BCE + KL/784 = the negative ELBO per pixel.
VAE: dict[str, Any] = dict(
    arch="vae", widths=[512, 256], latent_dim=32, latent_activation="none", loss="bce",
    regularizers=[{"name": "vae_kl", "weight": 1 / 784}],
)


#: Named nets for ``python -m regae.study.pilot NAME`` (learning-curve pilots).
PILOT_SPECS: dict[str, dict[str, Any]] = {
    "deep": COURSE_AE, "hinton": HINTON_AE, "hinton_bce": dict(HINTON_AE, loss="bce"),
    "shallow64": shallow(64), "shallow128": shallow(128), "shallow256": shallow(256), "shallow_bce": SHALLOW_BCE,
    "overcomplete": overcomplete(), "l1": overcomplete(l1=4e-6), "kl": overcomplete(kl=3e-4),
    "denoiser": denoiser(), "dae0.5": denoiser("gaussian:0.5"), "manifold": MANIFOLD,
    "conv-unpool": conv("unpool"), "conv-deconv": conv("deconv"), "conv-both": conv("both"), "vae": VAE,
}

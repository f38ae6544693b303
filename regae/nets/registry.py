"""Architecture name -> builder. Every builder returns an :class:`AENet`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from regae.errors import ConfigError
from regae.nets.base import AENet, check_input_shape
from regae.nets.conv import build_conv
from regae.nets.mlp import build_mlp
from regae.nets.unet import build_unet
from regae.nets.vae import build_vae

ARCHITECTURES: dict[str, Callable[..., AENet]] = {
    "unet": build_unet, "mlp": build_mlp, "conv": build_conv, "vae": build_vae,
}


def build_net(
    arch: str, latent_dim: int | None = None, input_shape: tuple[int, int, int] | None = None, **kwargs: Any
) -> AENet:
    """Build architecture ``arch`` for images of ``input_shape`` (C, H, W; default (1, 28, 28))
    with a validated latent size."""
    if arch not in ARCHITECTURES:
        raise ConfigError(f"Expected `arch` in {sorted(ARCHITECTURES)}, got {arch!r}.")
    if latent_dim is not None and (not isinstance(latent_dim, int) or latent_dim < 1):
        raise ConfigError(f"Expected `latent_dim` >= 1, got {latent_dim}.")
    if kwargs.get("tied") and arch != "mlp":
        raise ConfigError(f"Expected `tied` only with arch 'mlp' (one layer), got arch {arch!r}.")
    if kwargs.get("hidden_activation", "relu") != "relu" and arch != "mlp":
        raise ConfigError(f"Expected `hidden_activation` other than 'relu' only with arch 'mlp', got arch {arch!r}.")
    return ARCHITECTURES[arch](latent_dim=latent_dim, input_shape=check_input_shape(input_shape), **kwargs)

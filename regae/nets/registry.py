"""Architecture name -> builder. Every builder returns an :class:`AENet`.

A net is first built on torch's ``meta`` device (shapes only, no memory) and counted: one with
more than :data:`MAX_PARAMETERS` parameters is refused before a byte is allocated, so a typo such
as ``--model.latent_dim 1000000000`` (or a checkpoint that claims it) is one line, not an
allocation error or the OOM killer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from regae.errors import ConfigError
from regae.nets.base import AENet, check_input_shape
from regae.nets.conv import build_conv
from regae.nets.mlp import build_mlp
from regae.nets.unet import build_unet
from regae.nets.vae import build_vae

#: the largest net regae builds: 250 million parameters, 1 GiB of float32 weights (the presets have 0.3-3 million)
MAX_PARAMETERS = 250_000_000

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
    shape = check_input_shape(input_shape)
    with torch.device("meta"):  # shapes only: nothing is allocated
        n = sum(p.numel() for p in ARCHITECTURES[arch](latent_dim=latent_dim, input_shape=shape, **kwargs).parameters())
    if n > MAX_PARAMETERS:
        raise ConfigError(f"Expected a net of at most {MAX_PARAMETERS:,} parameters, got {n:,} for arch {arch!r} "
                          f"with latent_dim={latent_dim}, widths={kwargs.get('widths')}, input {'x'.join(map(str, shape))}.")
    return ARCHITECTURES[arch](latent_dim=latent_dim, input_shape=shape, **kwargs)

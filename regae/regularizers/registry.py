"""Regularizer name -> class, and the weighted list built from config."""

from __future__ import annotations

import inspect
from typing import Any

from regae.errors import ConfigError
from regae.regularizers.auxk import AuxK
from regae.regularizers.base import Regularizer
from regae.regularizers.contractive import Contractive
from regae.regularizers.decoder_l1 import DecoderNormL1
from regae.regularizers.sparsity import KLSparsity, L1Sparsity, WeightDecay
from regae.regularizers.vae import GaussianKL

REGULARIZERS: dict[str, type[Regularizer]] = {
    cls.name: cls for cls in (L1Sparsity, KLSparsity, DecoderNormL1, AuxK, Contractive, WeightDecay, GaussianKL)
}


def build_regularizer(spec: dict[str, Any]) -> Regularizer:
    """{'name': 'kl', 'weight': 1e-3, 'rho': 0.05} -> KLSparsity(1e-3, rho=0.05)."""
    if not isinstance(spec, dict) or "name" not in spec:
        raise ConfigError(f"Expected a regularizer as a mapping with a `name`, got {spec!r}.")
    options = dict(spec)
    name = options.pop("name")
    if name not in REGULARIZERS:
        raise ConfigError(f"Unknown regularizer {name!r}; expected one of {sorted(REGULARIZERS)}.")
    cls = REGULARIZERS[name]
    allowed = set(inspect.signature(cls.__init__).parameters) - {"self"}
    if unknown := set(options) - allowed:
        raise ConfigError(f"Unknown option(s) {sorted(unknown)} for regularizer {name!r}; allowed: {sorted(allowed)}.")
    if "weight" not in options:
        raise ConfigError(f"Regularizer {name!r} needs a `weight`.")
    return cls(**options)


def build_regularizers(specs: list[dict[str, Any]] | None) -> list[Regularizer]:
    regs = [build_regularizer(s) for s in (specs or [])]
    names = [r.name for r in regs]
    if len(set(names)) != len(names):
        raise ConfigError(f"Each regularizer may appear once, got {names}.")
    return regs

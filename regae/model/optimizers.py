"""The optimizers a model can name, each built with its fastest implementation."""

from __future__ import annotations

import math
from typing import Any

import torch

from regae.errors import ConfigError

OPTIMIZERS = {"adam": torch.optim.Adam, "adadelta": torch.optim.Adadelta, "sgd": torch.optim.SGD}


def check_optimizer(optimizer: str, lr: float, weight_decay: float, momentum: float) -> None:
    """Refuse, with a one-line ConfigError, an unknown optimizer or a rate that is not finite and > 0 (>= 0 for
    ``weight_decay`` and ``momentum``): at construction, before a step could turn it into NaN weights."""
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"Expected `optimizer` in {sorted(OPTIMIZERS)}, got {optimizer!r}.")
    for name, value in (("lr", lr), ("weight_decay", weight_decay), ("momentum", momentum)):
        if not (math.isfinite(value) and value >= 0) or (name == "lr" and value == 0):
            raise ConfigError(f"Expected `{name}` finite and {'> 0' if name == 'lr' else '>= 0'}, got {value}.")


def make_optimizer(name: str, params: list[torch.nn.Parameter], **kwargs: Any) -> torch.optim.Optimizer:
    """``OPTIMIZERS[name]`` with its fastest implementation for these parameters.

    Adam: the fused kernel (one pass over each tensor instead of ~10 ops) when every parameter
    is a float tensor on the CPU or a CUDA GPU, else ``foreach``; Adadelta and SGD: ``foreach``
    (on a CPU torch's default is a Python loop over the tensors). The same update rule, equal
    to float rounding (tests/model/test_fast_paths.py); on the 784-512-256-128-30 MLP the
    Adam step takes 1.2 ms instead of 3.2 ms (benchmarks/README.md).
    """
    cls = OPTIMIZERS[name]
    if name == "adam" and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params):
        return cls(params, fused=True, **kwargs)
    return cls(params, foreach=True, **kwargs)

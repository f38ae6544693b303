"""The regularizer protocol: a named, weighted scalar penalty on (model, x, h)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor

from regae.errors import ConfigError
from regae.nets.base import AENet, AEOutput


class Regularizer(ABC):
    """A penalty R(model, x, h) -> scalar; the training loss adds ``weight * R``.

    ``x`` is the encoder's input batch (B, C, H, W) and ``h = model.encode(x)`` (B, d).
    When :attr:`needs_input_grad` is true the caller computes ``h`` from an ``x`` that
    requires grad, so the penalty can differentiate ``h`` w.r.t. ``x`` without a second
    forward pass.
    """

    name: str = "regularizer"
    needs_input_grad: bool = False

    def __init__(self, weight: float) -> None:
        if not isinstance(weight, (int, float)) or not weight >= 0 or weight == float("inf"):
            raise ConfigError(f"Expected `weight` of regularizer {self.name!r} finite and >= 0, got {weight}.")
        self.weight = float(weight)

    @abstractmethod
    def __call__(self, model: AENet, x: Tensor, h: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The unweighted penalty, a scalar tensor."""

    def from_output(self, model: AENet, x: Tensor, out: AEOutput, generator: torch.Generator | None = None) -> Tensor:
        """The penalty given the forward's whole output (what the training step calls).

        By default ``self(model, x, out.h, generator)``; a penalty that needs more of the output
        (the VAE's posterior) overrides this instead of running the encoder a second time.
        """
        return self(model, x, out.h, generator)

    def check(self, model: AENet, latent_activation: str) -> None:
        """Raise :class:`ConfigError` if this penalty cannot apply to ``model``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weight={self.weight:g})"

"""AuxK (Gao et al. 2024): an auxiliary loss that gives dead units of a sparse code work to do.

A unit of a ``topk`` / ``batch_topk`` code that has not fired for ``window`` training steps is
dead (:meth:`regae.nets.codes.TopK.dead`). AuxK lets the ``k_aux`` largest pre-activations among
the dead units (ReLU'd) add to the live code and asks that sum to reconstruct the image, scaled
by the main reconstruction error so it stays O(1)::

    h_aux = ReLU(TopK_{k_aux}(z restricted to dead units))
    L_aux = ‖x − D(h + h_aux)‖² / ‖x − D(h)‖²        (h and the denominator held fixed)

Gao et al. decode h_aux alone against the residual x − D(h), which is the same thing for a linear
decoder; regae's decoders end in a sigmoid, so the dead units' contribution is decoded on top of
the live code. With no dead unit the loss is 0 and costs nothing; otherwise one more decode.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from regae.errors import ConfigError
from regae.nets.base import AENet, AEOutput
from regae.nets.codes import keep_largest, sparse_code
from regae.regularizers.base import Regularizer


class AuxK(Regularizer):
    """The AuxK loss (module docstring); ``window`` in training steps, ``k_aux`` dead units per image."""

    name = "auxk"

    def __init__(self, weight: float, k_aux: int = 256, window: int = 1000) -> None:
        super().__init__(weight)
        if not isinstance(k_aux, int) or k_aux < 1:
            raise ConfigError(f"Expected `k_aux` >= 1 for auxk, got {k_aux!r}.")
        if not isinstance(window, int) or window < 1:
            raise ConfigError(f"Expected `window` >= 1 (training steps) for auxk, got {window!r}.")
        self.k_aux, self.window = k_aux, window

    def check(self, model: AENet, latent_activation: str) -> None:
        if sparse_code(model) is None:
            raise ConfigError(f"auxk revives dead units of a sparse code: set latent_activation to topk:K or "
                              f"batch_topk:K, got {latent_activation!r}.")

    def from_output(self, model: AENet, x: Tensor, out: AEOutput, generator: torch.Generator | None = None) -> Tensor:
        code = sparse_code(model)
        dead = code.dead(self.window)  # (d,)
        if code.pre is None or not bool(dead.any()):
            return out.h.new_zeros(())
        z = code.pre.masked_fill(~dead, float("-inf"))  # (B, d): only dead units compete
        h_aux = keep_largest(z, min(self.k_aux, int(dead.sum())))  # (B, d)
        h_aux = torch.where(torch.isfinite(h_aux), h_aux, torch.zeros_like(h_aux))
        x_aux = model.decode(out.h.detach() + h_aux)
        main = F.mse_loss(out.x_hat.detach(), x).clamp_min(1e-12)
        return F.mse_loss(x_aux, x) / main

    def __call__(self, model: AENet, x: Tensor, h: Tensor, generator: torch.Generator | None = None) -> Tensor:
        raise TypeError("AuxK needs the forward's whole output: the training step calls from_output")

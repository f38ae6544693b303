"""L1 on the code that cannot be cheated by shrinking the code while growing the decoder.

Plain L1, (1/B) Σ_b Σ_j |h_bj|, falls when the encoder scales unit j down by c and the decoder
scales its weights up by 1/c: the reconstruction is unchanged and the penalty is c times smaller,
so training can make the code "sparse" without making it sparse. Weighting each unit by the norm
of its decoder column (Anthropic's SAE updates 2024; the sparse-dictionary objective) removes that::

    R(h) = (1/B) Σ_b Σ_j |h_bj| · ‖W_dec[:, j]‖₂

with W_dec the first linear layer of the decoder (the one that reads the code; for a tied net,
the encoder's weight, transposed). Under h_j → c·h_j and W_dec[:, j] → W_dec[:, j] / c, R is
unchanged. (The other fix, holding the decoder's columns at unit norm, constrains the net; this
keeps every architecture as it is.)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from regae.errors import ConfigError
from regae.nets.base import AENet
from regae.nets.mlp import TiedDecoder
from regae.regularizers.base import Regularizer


def decoder_weight(net: AENet) -> Tensor | None:
    """The (out, d) weight of the decoder layer that reads the code, or None if it has none."""
    if isinstance(net.decoder, TiedDecoder):
        return net.decoder._encoder[0].weight.t()  # (n, d)
    return next((m.weight for m in net.decoder.modules() if isinstance(m, nn.Linear)), None)


def decoder_norm_l1(h: Tensor, w_dec: Tensor) -> Tensor:
    """(1/B) Σ_b Σ_j |h_bj| ‖W_dec[:, j]‖: h (B, d), w_dec (out, d)."""
    return (h.abs() * w_dec.norm(dim=0)).sum(dim=1).mean()


class DecoderNormL1(Regularizer):
    """(1/B) Σ_b Σ_j |h_bj| ‖W_dec[:, j]‖₂: L1 that rescaling encoder and decoder cannot lower (module docstring)."""

    name = "l1_decoder_norm"

    def check(self, model: AENet, latent_activation: str) -> None:
        w = decoder_weight(model)
        if w is None or w.shape[1] != model.latent_dim:
            raise ConfigError("l1_decoder_norm needs a decoder whose first layer is linear in the code "
                              "(mlp or unet; not conv, whose code is the feature map itself).")

    def __call__(self, model: AENet, x: Tensor, h: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return decoder_norm_l1(h, decoder_weight(model))

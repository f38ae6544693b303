"""Pixel- vs latent-space interpolation between two images.

For α in [0, 1]: I_α = α I₁ + (1-α) I₂, h_α = E(I_α), h'_α = α h₁ + (1-α) h₂,
Î_α = D(h_α) (decode the pixel mix) and Î'_α = D(h'_α) (decode the latent mix).
At α = 0 and 1 the two coincide: their PSNR is +inf and ‖h_α - h'_α‖ is 0.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from regae.model.inference import psnr

DEFAULT_ALPHAS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


class Interpolation(NamedTuple):
    alphas: Tensor  # (A,)
    pixel: Tensor  # (A, C, H, W)  Î_α = D(E(α I₁ + (1-α) I₂))
    latent: Tensor  # (A, C, H, W)  Î'_α = D(α h₁ + (1-α) h₂)
    psnr: Tensor  # (A,) PSNR(Î_α, Î'_α) in dB, +inf where identical
    latent_dist: Tensor  # (A,) ‖h_α - h'_α‖₂


@torch.no_grad()
def interpolate(model, x1: Tensor, x2: Tensor, alphas: Tensor | tuple[float, ...] = DEFAULT_ALPHAS) -> Interpolation:
    """Interpolate between images x1, x2 (C, H, W) with ``model.encode``/``model.decode``."""
    alphas = torch.as_tensor(alphas, dtype=x1.dtype, device=x1.device)  # (A,)
    a = alphas.view(-1, 1, 1, 1)
    mixed = a * x1 + (1 - a) * x2  # (A, C, H, W)
    h_pix = model.encode(mixed)  # (A, d)
    h1, h2 = model.encode(torch.stack([x1, x2]))  # (d,) each
    # At α = 1 (0) the mix *is* I₁ (I₂), so take h₁ (h₂) from that same batched call: batched
    # kernels may differ in the last bits between batch sizes, and the routes must then agree exactly.
    is1, is0 = alphas == 1, alphas == 0
    h1 = h_pix[is1][0] if is1.any() else h1
    h2 = h_pix[is0][0] if is0.any() else h2
    h_lat = alphas.view(-1, 1) * h1 + (1 - alphas.view(-1, 1)) * h2  # (A, d)
    h_lat = torch.where(is1.view(-1, 1), h1, torch.where(is0.view(-1, 1), h2, h_lat))
    pixel, latent = model.decode(h_pix), model.decode(h_lat)
    return Interpolation(alphas, pixel, latent, psnr(pixel, latent, dim=(1, 2, 3)).to(pixel.dtype), (h_pix - h_lat).norm(dim=1))

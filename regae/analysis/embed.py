"""Encode (and reconstruct) a split with a trained model, in batches, with a progress bar."""

from __future__ import annotations

import torch
from torch import Tensor
from tqdm.auto import tqdm

from regae.data.mnist import to_float


def _batches(n: int, batch_size: int, desc: str | None):
    starts = range(0, n, batch_size)
    return tqdm(starts, desc=desc, unit="batch", leave=False, disable=desc is None)


@torch.no_grad()
def encode(model, images: Tensor, batch_size: int = 1000, desc: str | None = None) -> Tensor:
    """h = E(x) for uint8 images (N, [C,] H, W) -> float32 embeddings (N, d) on the CPU."""
    device = next(model.parameters()).device
    out = []
    for s in _batches(len(images), batch_size, desc):
        x = to_float(images[s : s + batch_size]).to(device)  # (b, C, H, W)
        out.append(model.encode(x).float().cpu())  # (b, d)
    return torch.cat(out)


@torch.no_grad()
def reconstruct(model, images: Tensor, batch_size: int = 1000) -> Tensor:
    """Î = D(E(x)) for uint8 images (N, [C,] H, W) -> float32 (N, C, H, W) in [0, 1] on the CPU."""
    device = next(model.parameters()).device
    out = [model(to_float(images[s : s + batch_size]).to(device)).x_hat.cpu() for s in range(0, len(images), batch_size)]
    return torch.cat(out)

"""Greedy layer-wise pre-training of a fully connected autoencoder (Bengio et al. 2007).

Hinton & Salakhutdinov (2006) pre-trained each layer of their deep AE as an RBM before
fine-tuning the whole net; Bengio et al. (2007) did the same with one shallow autoencoder per
layer, which is what this does. For encoder layer k, ``x_k = f_k(W_k x_{k-1} + b_k)``
(``f_k`` the net's hidden activation, or its code activation for the last layer; ``x_0`` the
images), and its mirror in the decoder, ``V_k`` with output activation ``g_k`` (sigmoid for the
layer that outputs pixels, the hidden activation for the others), the shallow AE

    min_{W_k, b_k, V_k, c_k}  (1/B) Σ_b ‖g_k(V_k x_k + c_k) − x_{k-1}‖² / n_{k-1}

is trained with Adam on the codes of the layers below, which are fixed by then. The net's
weights then start the usual end-to-end training from there instead of from random.

With ``corrupt`` (a :class:`~regae.data.corrupt.Corruption` spec such as ``masking:0.25``) each
shallow AE is a denoising AE (Vincent et al. 2008, 2010: a stacked denoising autoencoder): its
encoder sees x̃_{k-1} ~ q(x̃ | x_{k-1}), the loss still compares with the clean x_{k-1}, and the
next layer is trained on the clean codes ``x_k = f_k(W_k x_{k-1} + b_k)``::

    min  (1/B) Σ_b ‖g_k(V_k f_k(W_k x̃_{k-1} + b_k) + c_k) − x_{k-1}‖² / n_{k-1}

The noise has its own generator, so the batches are the same with and without it, and
``corrupt=None`` is exactly the plain pre-training.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from regae.data.corrupt import Corruption
from regae.data.dataset import to_float
from regae.nets.base import AENet
from regae.nets.mlp import MLPDecoder, MLPEncoder


def layer_pairs(net: AENet) -> list[tuple[nn.Linear, nn.Module, nn.Linear, nn.Module]]:
    """(W_k, f_k, V_k, g_k) for each encoder layer k of an MLP autoencoder, bottom first."""
    if not (isinstance(net.encoder, MLPEncoder) and isinstance(net.decoder, MLPDecoder)):
        raise ValueError(f"layer-wise pre-training needs an MLP autoencoder, not {type(net.encoder).__name__}")
    enc = [m for m in net.encoder if isinstance(m, nn.Linear)]
    dec = [m for m in net.decoder.net if isinstance(m, nn.Linear)]
    if not enc or len(enc) != len(dec):
        raise ValueError("layer-wise pre-training needs an MLP autoencoder with mirrored encoder and decoder layers")
    after = {id(m): nxt for seq in (list(net.encoder), list(net.decoder.net)) for m, nxt in zip(seq, seq[1:])}
    depth = len(enc)  # f_k: what follows W_k in the encoder (the code's activation for the last); g_k likewise
    return [(enc[k], after[id(enc[k])], dec[depth - 1 - k], after[id(dec[depth - 1 - k])]) for k in range(depth)]


@torch.no_grad()
def _codes(x: Tensor, w: nn.Linear, f: nn.Module, chunk: int = 4096) -> Tensor:
    return torch.cat([f(w(part)) for part in x.split(chunk)])


#: the noise generator's seed is ``seed + NOISE_SEED``: a stream apart from the one that shuffles the batches
NOISE_SEED = 7919


def pretrain(net: AENet, images: Tensor, epochs: int, lr: float = 1e-3, batch_size: int = 64, seed: int = 0,
             log: Callable[[str], None] | None = None, corrupt: str | None = None) -> list[float]:
    """Pre-train ``net``'s layers in place on ``images`` (N, C, H, W; uint8 or floats in [0, 1]),
    ``epochs`` passes per layer; returns each layer's mean loss over its last epoch (against the
    clean inputs). ``corrupt``: each layer a denoising AE with this input corruption (e.g.
    ``masking:0.25``); masking suits any layer, gaussian and salt_and_pepper clip to [0, 1]
    (inputs in [0, 1]: the images, sigmoid codes)."""
    if epochs < 1:
        raise ValueError(f"Expected `epochs` >= 1 for pre-training, got {epochs}.")
    corruption = Corruption.parse(corrupt) if corrupt else None
    x = (to_float(images) if images.dtype == torch.uint8 else images.float()).flatten(1)
    gen = torch.Generator().manual_seed(seed)
    noise = torch.Generator().manual_seed(seed + NOISE_SEED) if corruption is not None else None
    losses = []
    for k, (w, f, v, g) in enumerate(layer_pairs(net)):
        params = [*w.parameters(), *v.parameters()]
        opt = torch.optim.Adam(params, lr=lr)
        for epoch in range(epochs):
            total, batches = torch.zeros(()), 0
            for idx in torch.randperm(len(x), generator=gen).split(batch_size):
                xb = x[idx]  # (B, n_{k-1}), clean
                x_in = corruption(xb, noise) if corruption is not None else xb
                loss = nn.functional.mse_loss(g(v(f(w(x_in)))), xb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach()
                batches += 1
            if log:
                log(f"  layer {k + 1} ({w.in_features}-{w.out_features}), epoch {epoch + 1}/{epochs}: "
                    f"loss {float(total) / batches:.5f}")
        losses.append(float(total) / batches)
        x = _codes(x, w, f)
    return losses


def pretrain_on(net: AENet, data, epochs: int, lr: float, batch_size: int, seed: int,
                log: Callable[[str], None] | None = None, corrupt: str | None = None) -> list[float]:
    """:func:`pretrain` on the training images of ``data`` (an :class:`~regae.data.datamodule.ImageDataModule`,
    set up here), then one summary line to ``log``: layers, wall and CPU seconds, last-epoch losses."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    data.setup("fit")
    losses = pretrain(net, data.train[0], epochs, lr=lr, batch_size=batch_size, seed=seed, log=log, corrupt=corrupt)
    if log:
        log(f"    pre-trained {len(losses)} layers{f' as denoising AEs ({corrupt})' if corrupt else ''} in {time.perf_counter() - wall0:.0f} s wall, "
            f"{time.process_time() - cpu0:.0f} s CPU; last-epoch losses {', '.join(f'{v:.5f}' for v in losses)}")
    return losses

"""The small convolutional AE: 3x3 convs with 8/16/16 channels, each followed by 2x2 max-pool.

Built for any input (C, H, W) that survives three halvings. Encoder on MNIST:
28 -> 14 -> 7 -> 3 (floor), latent = the flattened (16, 3, 3) map, d = 144; on 32x32:
32 -> 16 -> 8 -> 4, d = 256. Three decoders mirror it:

* ``unpool``: ``MaxUnpool2d`` with the encoder's pool indices, then a 3x3 conv per level;
* ``deconv``: ``ConvTranspose2d`` upsampling, no indices (kernel 2, or 3 along a side where
  the encoder's pool floored an odd size: 3 -> 7, 7 -> 14, 14 -> 28 on MNIST);
* ``both``: ``MaxUnpool2d`` with indices, then a 3x3 ``ConvTranspose2d`` per level.

Unpooling needs indices. ``decode(h)`` without an encoder pass (a mixed latent, a latent
from elsewhere) uses the top-left position of every 2x2 window, i.e. plain zero-insertion
upsampling; ``forward(x)`` uses the indices of ``x`` itself.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from regae.errors import ConfigError
from regae.nets.base import (
    DEFAULT_INPUT_SHAPE,
    AENet,
    AEOutput,
    check_input_shape,
    check_widths,
    halvings,
    latent_activation,
)

DECODERS = ("unpool", "deconv", "both")
LEVELS = 3


class ConvEncoder(nn.Module):
    def __init__(self, widths: tuple[int, int, int], activation: str, in_channels: int = 1,
                 latent_dim: int | None = None) -> None:
        super().__init__()
        chans = (in_channels, *widths)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in zip(chans[:-1], chans[1:]))
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.activation = latent_activation(activation, latent_dim)

    def features(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        indices = []
        for conv in self.convs:
            x, idx = self.pool(torch.relu(conv(x)))
            indices.append(idx)
        return self.activation(x.flatten(1)), indices  # (B, c3*h3*w3), pool indices per level

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x)[0]


def _pair(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (size[0], size[1])


def top_left_indices(
    batch: int, channels: int, size_in: int | tuple[int, int], size_out: int | tuple[int, int], device: torch.device
) -> Tensor:
    """Pool indices (into the size_in map) selecting the top-left pixel of each 2x2 window: (B, C, *size_out)."""
    (_, w_in), (h_out, w_out) = _pair(size_in), _pair(size_out)
    rows = torch.arange(h_out, device=device) * 2
    cols = torch.arange(w_out, device=device) * 2
    flat = (rows[:, None] * w_in + cols[None, :]).expand(batch, channels, h_out, w_out)
    return flat.contiguous()


class ConvDecoder(nn.Module):
    def __init__(self, widths: tuple[int, int, int], mode: str,
                 input_shape: tuple[int, int, int] = DEFAULT_INPUT_SHAPE) -> None:
        super().__init__()
        if mode not in DECODERS:
            raise ConfigError(f"Expected `decoder` in {list(DECODERS)}, got {mode!r}.")
        self.mode, self.widths = mode, widths
        self.sizes = halvings(input_shape, LEVELS, "conv")  # (H, W) before each pool and after the last
        c1, c2, c3 = widths
        outs = (c2, c1, input_shape[0])  # channels after each up level (deepest first)
        ins = (c3, c2, c1)
        if mode == "deconv":
            ups = []
            for level, c in enumerate(ins):
                (hs, ws), (ht, wt) = self.sizes[LEVELS - level], self.sizes[LEVELS - 1 - level]
                ups.append(nn.ConvTranspose2d(c, c, (2 + ht - 2 * hs, 2 + wt - 2 * ws), stride=2))
            self.ups = nn.ModuleList(ups)
            self.convs = nn.ModuleList([nn.Conv2d(c, o, 3, padding=1) for c, o in zip(ins, outs)])
        else:
            self.unpool = nn.MaxUnpool2d(2)
            layer = nn.Conv2d if mode == "unpool" else nn.ConvTranspose2d
            self.convs = nn.ModuleList([layer(c, o, 3, padding=1) for c, o in zip(ins, outs)])

    def forward(self, h: Tensor, indices: list[Tensor] | None = None) -> Tensor:
        x = h.view(-1, self.widths[2], *self.sizes[LEVELS])  # (B, c3, h3, w3)
        for level in range(LEVELS):
            size_out = self.sizes[LEVELS - 1 - level]  # MNIST: 7, 14, 28
            if self.mode == "deconv":
                x = torch.relu(self.ups[level](x))
            else:
                idx = indices[LEVELS - 1 - level] if indices is not None else top_left_indices(
                    x.shape[0], x.shape[1], size_out, tuple(x.shape[-2:]), x.device)
                x = self.unpool(x, idx, output_size=size_out)
            x = self.convs[level](x)
            x = torch.sigmoid(x) if level == LEVELS - 1 else torch.relu(x)
        return x  # (B, C, H, W)


class ConvAENet(AENet):
    def decode(self, h: Tensor, indices: list[Tensor] | None = None) -> Tensor:
        return self.decoder(h, indices)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> AEOutput:
        h, indices = self.encoder.features(x)
        return AEOutput(self.decoder(h, indices if self.decoder.mode != "deconv" else None), h)


def build_conv(
    latent_dim: int | None = None,
    widths: list[int] | None = None,
    decoder: str = "unpool",
    latent_activation: str = "none",
    input_shape: tuple[int, int, int] | None = None,
    **unused: object,
) -> AENet:
    w = check_widths("widths", widths if widths is not None else (8, 16, 16), min_len=3)
    if len(w) != 3:
        raise ConfigError(f"Expected `widths` with exactly 3 channel counts for conv, got {list(w)}.")
    shape = check_input_shape(input_shape)
    h3, w3 = halvings(shape, LEVELS, "conv")[-1]
    d = w[2] * h3 * w3
    if latent_dim is not None and latent_dim != d:
        raise ConfigError(
            f"Expected `latent_dim` null or {d} for conv on {shape[1]}x{shape[2]} inputs "
            f"(the flattened {w[2]}x{h3}x{w3} map), got {latent_dim}."
        )
    return ConvAENet(ConvEncoder(w, latent_activation, shape[0], d), ConvDecoder(w, decoder, shape), d, shape)

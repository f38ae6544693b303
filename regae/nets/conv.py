"""The small convolutional AE: 3x3 convs with 8/16/16 channels, each followed by 2x2 max-pool.

Encoder: 28 -> 14 -> 7 -> 3 (floor), latent = the flattened (16, 3, 3) map, d = 144.
Three decoders mirror it:

* ``unpool``: ``MaxUnpool2d`` with the encoder's pool indices, then a 3x3 conv per level;
* ``deconv``: ``ConvTranspose2d`` upsampling, no indices;
* ``both``: ``MaxUnpool2d`` with indices, then a 3x3 ``ConvTranspose2d`` per level.

Unpooling needs indices. ``decode(h)`` without an encoder pass (a mixed latent, a latent
from elsewhere) uses the top-left position of every 2x2 window, i.e. plain zero-insertion
upsampling; ``forward(x)`` uses the indices of ``x`` itself.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from regae.errors import ConfigError
from regae.nets.base import AENet, AEOutput, check_widths, latent_activation

DECODERS = ("unpool", "deconv", "both")
SIZES = (28, 14, 7, 3)  # spatial size before each pool and after the last


class ConvEncoder(nn.Module):
    def __init__(self, widths: tuple[int, int, int], activation: str) -> None:
        super().__init__()
        chans = (1, *widths)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in zip(chans[:-1], chans[1:]))
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.activation = latent_activation(activation)

    def features(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        indices = []
        for conv in self.convs:
            x, idx = self.pool(torch.relu(conv(x)))
            indices.append(idx)
        return self.activation(x.flatten(1)), indices  # (B, c3*9), pool indices per level

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x)[0]


def top_left_indices(batch: int, channels: int, size_in: int, size_out: int, device: torch.device) -> Tensor:
    """Pool indices selecting the top-left pixel of each 2x2 window: (B, C, out, out)."""
    r = torch.arange(size_out, device=device) * 2
    flat = (r[:, None] * size_in + r[None, :]).expand(batch, channels, size_out, size_out)
    return flat.contiguous()


class ConvDecoder(nn.Module):
    def __init__(self, widths: tuple[int, int, int], mode: str) -> None:
        super().__init__()
        if mode not in DECODERS:
            raise ConfigError(f"Expected `decoder` in {list(DECODERS)}, got {mode!r}.")
        self.mode, self.widths = mode, widths
        c1, c2, c3 = widths
        outs = (c2, c1, 1)  # channels after each up level (deepest first)
        ins = (c3, c2, c1)
        if mode == "deconv":
            # 3 -> 7 (k3 s2), 7 -> 14 (k2 s2), 14 -> 28 (k2 s2)
            self.ups = nn.ModuleList([
                nn.ConvTranspose2d(c3, c3, 3, stride=2), nn.ConvTranspose2d(c2, c2, 2, stride=2),
                nn.ConvTranspose2d(c1, c1, 2, stride=2),
            ])
            self.convs = nn.ModuleList([nn.Conv2d(c, o, 3, padding=1) for c, o in zip(ins, outs)])
        else:
            self.unpool = nn.MaxUnpool2d(2)
            layer = nn.Conv2d if mode == "unpool" else nn.ConvTranspose2d
            self.convs = nn.ModuleList([layer(c, o, 3, padding=1) for c, o in zip(ins, outs)])

    def forward(self, h: Tensor, indices: list[Tensor] | None = None) -> Tensor:
        c3 = self.widths[2]
        x = h.view(-1, c3, 3, 3)  # (B, c3, 3, 3)
        for level in range(3):
            size_out = SIZES[2 - level]  # 7, 14, 28
            if self.mode == "deconv":
                x = torch.relu(self.ups[level](x))
            else:
                idx = indices[2 - level] if indices is not None else top_left_indices(
                    x.shape[0], x.shape[1], size_out, x.shape[-1], x.device)
                x = self.unpool(x, idx, output_size=(size_out, size_out))
            x = self.convs[level](x)
            x = torch.sigmoid(x) if level == 2 else torch.relu(x)
        return x  # (B, 1, 28, 28)


class ConvAENet(AENet):
    def decode(self, h: Tensor, indices: list[Tensor] | None = None) -> Tensor:
        return self.decoder(h, indices)

    def forward(self, x: Tensor) -> AEOutput:
        h, indices = self.encoder.features(x)
        return AEOutput(self.decoder(h, indices if self.decoder.mode != "deconv" else None), h)


def build_conv(
    latent_dim: int | None = None,
    widths: list[int] | None = None,
    decoder: str = "unpool",
    latent_activation: str = "none",
    **unused: object,
) -> AENet:
    w = check_widths("widths", widths if widths is not None else (8, 16, 16), min_len=3)
    if len(w) != 3:
        raise ConfigError(f"Expected `widths` with exactly 3 channel counts for conv, got {list(w)}.")
    d = w[2] * 9
    if latent_dim is not None and latent_dim != d:
        raise ConfigError(f"Expected `latent_dim` null or {d} for conv (the flattened {w[2]}x3x3 map), got {latent_dim}.")
    return ConvAENet(ConvEncoder(w, latent_activation), ConvDecoder(w, decoder), d)

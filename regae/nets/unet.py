"""The U-Net encoder/decoder *without* skip connections (the seed assignment's net).

Built for any input (C, H, W). Contracting path: one double 3x3 conv (padding 1) + ReLU block
per level with a 2x2 max-pool between levels (MNIST with three levels: 28 -> 14 -> 7), the
last block the bottleneck (with GroupNorm, see :func:`group_norm`), projected to a flat
latent of size d. Expanding path: linear back to the bottleneck map, then transposed conv
(x2, one row/column more where the encoder's pool floored an odd size) + double conv per
level up to H x W, a 1x1 conv to C channels and a sigmoid. Nothing is concatenated from
encoder to decoder, so the latent is the only route from input to output.
"""

from __future__ import annotations

from torch import Tensor, nn

from regae.nets.base import DEFAULT_INPUT_SHAPE, AENet, check_input_shape, check_widths, halvings, latent_activation


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with the most groups (<= 8) that divide ``channels``.

    Where it sits: in the encoder only in the bottleneck block (7x7 on MNIST). Without it the default init
    leaves the latent almost independent of the input (spread over a batch ~1e-4) and a
    sigmoid latent saturates at 1 within ~50 Adam steps, stuck on the mean image. GroupNorm
    normalises each sample on its own, so samples stay independent and the batched Jacobian
    of the contractive penalty stays exact (BatchNorm would couple them); at MNIST's 7x7 it adds
    almost nothing to the penalty's d backward passes (measured: 9.4 s vs 9.1 s for one
    penalty + backward, against 12-16 s with GroupNorm in every encoder block).
    """
    groups = max(g for g in range(1, 9) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


def double_conv(c_in: int, c_out: int, norm: bool = False) -> nn.Sequential:
    """(3x3 conv[, GroupNorm], ReLU) x 2."""
    layers: list[nn.Module] = []
    for a, b in ((c_in, c_out), (c_out, c_out)):
        layers += [nn.Conv2d(a, b, 3, padding=1), *([group_norm(b)] if norm else []), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class UNetEncoder(nn.Module):
    def __init__(self, widths: tuple[int, ...], latent_dim: int, activation: str,
                 input_shape: tuple[int, int, int] = DEFAULT_INPUT_SHAPE) -> None:
        super().__init__()
        sizes = halvings(input_shape, len(widths) - 1, "unet")
        chans = (input_shape[0], *widths)
        layers: list[nn.Module] = []
        for i in range(len(widths)):
            last = i == len(widths) - 1
            layers.append(double_conv(chans[i], chans[i + 1], norm=last))  # (B, w_i, *sizes[i])
            if not last:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)  # MNIST, widths c1 c2 c3: 28 -> 14 -> 7, bottleneck (B, c3, 7, 7)
        bottom = sizes[-1]
        self.project = nn.Linear(widths[-1] * bottom[0] * bottom[1], latent_dim)
        self.activation = latent_activation(activation, latent_dim)

    def forward(self, x: Tensor) -> Tensor:
        f = self.features(x).flatten(1)  # (B, c_last * h_b * w_b)
        return self.activation(self.project(f))  # (B, d)


class UNetDecoder(nn.Module):
    def __init__(self, widths: tuple[int, ...], latent_dim: int,
                 input_shape: tuple[int, int, int] = DEFAULT_INPUT_SHAPE) -> None:
        super().__init__()
        self.sizes = halvings(input_shape, len(widths) - 1, "unet")  # (H, W) per level, input first
        self.c_last = widths[-1]
        bottom = self.sizes[-1]
        self.unproject = nn.Sequential(nn.Linear(latent_dim, self.c_last * bottom[0] * bottom[1]), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        for i in range(len(widths) - 1, 0, -1):  # deepest first
            layers += [nn.ConvTranspose2d(widths[i], widths[i - 1], 2, stride=2), double_conv(widths[i - 1], widths[i - 1], norm=True)]
        layers += [nn.Conv2d(widths[0], input_shape[0], 1), nn.Sigmoid()]
        self.up = nn.Sequential(*layers)

    def forward(self, h: Tensor) -> Tensor:
        x = self.unproject(h).view(-1, self.c_last, *self.sizes[-1])  # (B, c_last, h_b, w_b)
        level = len(self.sizes) - 1
        for layer in self.up:
            if isinstance(layer, nn.ConvTranspose2d):
                level -= 1
                x = layer(x, output_size=self.sizes[level])  # x2, +1 where the encoder's pool floored an odd size
            else:
                x = layer(x)
        return x  # (B, C, H, W)


def build_unet(
    latent_dim: int | None = None,
    widths: list[int] | None = None,
    latent_activation: str = "sigmoid",
    input_shape: tuple[int, int, int] | None = None,
    **unused: object,
) -> AENet:
    """U-Net without skips; ``widths`` are the channels of its levels (default 16, 32, 64: two
    2x2 poolings, 28 -> 14 -> 7 on MNIST); the input must survive ``len(widths) - 1`` halvings."""
    d = 32 if latent_dim is None else latent_dim
    w = check_widths("widths", widths if widths is not None else (16, 32, 64), min_len=2)
    shape = check_input_shape(input_shape)
    return AENet(UNetEncoder(w, d, latent_activation, shape), UNetDecoder(w, d, shape), d, shape)

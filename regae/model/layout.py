"""Channels-last memory layout for conv nets trained on a CPU.

oneDNN, which runs torch's CPU convolutions and max-pooling, works in NHWC ("channels last");
given NCHW tensors it reorders them on every call. Keeping the conv weights and the batch in
channels-last saves those reorders. Measured per training step (one thread, process CPU time,
alternating, benchmarks/README.md): the conv AE (`conv-deconv`) 1.40x faster, the U-Net of
`sparse` 1.15x, `contractive-hutchinson` 1.05x; the same results up to float rounding.
On a GPU the layout is left alone (untested there: no GPU was lent to this project).

The layout is invisible to a user: the values, shapes and checkpoints are the same (a
channels-last checkpoint loads into a fresh NCHW net and back).
"""

from __future__ import annotations

import torch
from torch import nn

CHANNELS_LAST = torch.channels_last


def wants_channels_last(net: nn.Module, device: torch.device) -> bool:
    """True for a net with 2-d (transposed) convolutions that trains on the CPU."""
    return device.type == "cpu" and any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in net.modules())


def match_param_layouts(optimizer: torch.optim.Optimizer) -> int:
    """Give every optimizer state tensor its parameter's strides; returns how many it changed.

    torch's fused Adam on the CPU walks a parameter, its gradient and its state tensors as flat
    arrays: when their strides differ it pairs the wrong elements and updates the weights
    wrongly without an error (tests/model/test_layout.py shows it). That happens when a checkpoint
    saved from an NCHW net is resumed into a channels-last one, so every fit calls this once
    the optimizer state is restored.
    """
    changed = 0
    for param, state in optimizer.state.items():
        for key, value in state.items():
            if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                state[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)
                changed += 1
    return changed

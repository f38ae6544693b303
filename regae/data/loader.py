"""A batch loader that cuts batches out of in-memory uint8 tensors by indexing.

No per-sample PIL/ToTensor and no worker processes: a batch is one gather and one
``float()``. The order of an epoch is a function of (seed, epoch) alone, and the loader
exposes ``state_dict``/``load_state_dict`` so Lightning can save its position inside an
epoch and a resumed run continues with exactly the batches it had not seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from regae.data.dataset import to_float


class _EpochSetter:
    """A loader's ``.sampler`` as Lightning sees it: only ``set_epoch``."""

    def __init__(self, loader: TensorBatchLoader) -> None:
        self.loader = loader

    def set_epoch(self, epoch: int) -> None:
        self.loader.set_epoch(epoch)


class TensorBatchLoader:
    """Iterates (images float (B, C, H, W) in [0,1], labels (B,)) over uint8 tensors.

    ``images`` are (N, H, W) for one channel (MNIST) or (N, C, H, W).

    With ``num_replicas > 1`` each rank takes every ``num_replicas``-th index of the
    same permutation (padded by wrapping, as ``DistributedSampler`` does), so ranks see
    disjoint shards of equal length.
    """

    def __init__(
        self,
        images: Tensor,  # uint8 (N, H, W) or (N, C, H, W)
        labels: Tensor,  # (N,)
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        rank: int = 0,
        num_replicas: int = 1,
    ) -> None:
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle, self.seed, self.drop_last = batch_size, shuffle, seed, drop_last
        self.rank, self.num_replicas = rank, num_replicas
        self.epoch = 0
        self._position = 0  # batches already yielded in the current epoch
        self._resume_from = 0

    def _indices(self) -> Tensor:
        n = len(self.images)
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(n, generator=g)
        else:
            order = torch.arange(n)
        if self.num_replicas > 1:
            per_rank = math.ceil(n / self.num_replicas)
            order = order.repeat(math.ceil(per_rank * self.num_replicas / n))[: per_rank * self.num_replicas]
            order = order[self.rank :: self.num_replicas]
        return order.to(self.images.device)

    def __len__(self) -> int:
        n = math.ceil(len(self.images) / self.num_replicas)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        if self._position >= len(self):
            # The previous epoch was handed out in full. This is the one place the epoch advances:
            # Lightning stops after len(self) batches without exhausting the generator (and calls
            # set_epoch only on a `.sampler`), so code after the loop below would never run.
            self.epoch, self._position, self._resume_from = self.epoch + 1, 0, 0
        order = self._indices()
        start, self._resume_from = self._resume_from, 0
        self._position = start
        for b in range(start, len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            self._position = b + 1
            yield to_float(self.images[idx]), self.labels[idx]  # (B, C, H, W), (B,)

    batch_sampler = None  # Lightning reads it wherever it finds a `.sampler`

    @property
    def sampler(self) -> _EpochSetter:
        """What Lightning calls ``set_epoch`` on at the start of every epoch (it looks for a ``.sampler``)."""
        return _EpochSetter(self)

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` from its first batch, unless it is the epoch already under way (a run
        resumed mid-epoch keeps its position). A run resumed from a checkpoint saved at an epoch's end
        gets no loader state from Lightning, only this call: without it, it would replay epoch 0's order."""
        if epoch != self.epoch:
            self.epoch, self._position, self._resume_from = epoch, 0, 0

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self._position, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self._resume_from, self.seed = state["epoch"], state["position"], state["seed"]
        self._position = self._resume_from

"""LightningDataModule over the shipped MNIST, held in memory as uint8 tensors."""

from __future__ import annotations

import lightning.pytorch as pl
import torch

from regae.data.loader import TensorBatchLoader
from regae.data.mnist import load_split
from regae.errors import ConfigError


class MNISTDataModule(pl.LightningDataModule):
    """MNIST train/val/test from the package, batches cut by indexing.

    Args:
        batch_size: images per batch (per process under DDP).
        val_size: images held out of the 60,000 training images for validation.
        split_seed: seed of the fixed train/val split (independent of the training seed).
        shuffle_seed: seed of the per-epoch training order.
        limit_train: use only the first ``limit_train`` training images (after the split),
            for quick runs and tests; ``None`` uses all.
        limit_test: likewise for validation and test.
        on_device: move the uint8 images once to the training device (a GPU then never
            waits on the host).
        root: folder with the four MNIST files instead of the shipped ones (md5 checked).
    """

    def __init__(
        self,
        batch_size: int = 128,
        val_size: int = 5000,
        split_seed: int = 0,
        shuffle_seed: int = 0,
        limit_train: int | None = None,
        limit_test: int | None = None,
        on_device: bool = True,
        root: str | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ConfigError(f"Expected `batch_size` >= 1, got {batch_size}.")
        if not 0 <= val_size < 60_000:
            raise ConfigError(f"Expected `val_size` in [0, 60000), got {val_size}.")
        for name, value in (("limit_train", limit_train), ("limit_test", limit_test)):
            if value is not None and value < 1:
                raise ConfigError(f"Expected `{name}` >= 1 or null, got {value}.")
        self.save_hyperparameters()
        self.batch_size, self.val_size = batch_size, val_size
        self.split_seed, self.shuffle_seed = split_seed, shuffle_seed
        self.limit_train, self.limit_test = limit_train, limit_test
        self.on_device, self.root = on_device, root
        self._train_loader: TensorBatchLoader | None = None

    def setup(self, stage: str | None = None) -> None:
        train = load_split("train", self.root)
        test = load_split("test", self.root)
        perm = torch.randperm(len(train.images), generator=torch.Generator().manual_seed(self.split_seed))
        val_idx, train_idx = perm[: self.val_size], perm[self.val_size :]
        lt, ls = self.limit_train, self.limit_test
        self.train = (train.images[train_idx][:lt], train.labels[train_idx][:lt])
        self.val = (train.images[val_idx][:ls], train.labels[val_idx][:ls])
        self.test = (test.images[:ls], test.labels[:ls])
        if self.on_device and self.trainer is not None:
            device = self.trainer.strategy.root_device
            self.train, self.val, self.test = (
                tuple(t.to(device) for t in part) for part in (self.train, self.val, self.test)
            )

    def _ranks(self) -> tuple[int, int]:
        if self.trainer is None:
            return 0, 1
        return self.trainer.global_rank, self.trainer.world_size

    def train_dataloader(self) -> TensorBatchLoader:
        rank, world = self._ranks()
        # One loader object for the whole fit, so its epoch/position state is what
        # Lightning checkpoints and restores.
        if self._train_loader is None:
            self._train_loader = TensorBatchLoader(
                *self.train, self.batch_size, shuffle=True, seed=self.shuffle_seed,
                rank=rank, num_replicas=world,
            )
        return self._train_loader

    def _eval_loader(self, part: tuple[torch.Tensor, torch.Tensor]) -> TensorBatchLoader:
        rank, world = self._ranks()
        return TensorBatchLoader(*part, self.batch_size, rank=rank, num_replicas=world)

    def val_dataloader(self) -> TensorBatchLoader:
        return self._eval_loader(self.val)

    def test_dataloader(self) -> TensorBatchLoader:
        return self._eval_loader(self.test)

"""LightningDataModule over any image dataset held in memory as uint8 tensors.

The dataset is read (and checked) when the module is constructed, so a bad folder, file or
option fails before a Trainer exists, and :attr:`ImageDataModule.input_shape` is known when
the model is built (``regae fit`` links it to ``--model.input_shape``).
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch

from regae.data.dataset import DEFAULT_MAX_BYTES, ImageDataset
from regae.data.loader import TensorBatchLoader
from regae.data.record import RECORD_KEY
from regae.data.registry import load_dataset
from regae.errors import ConfigError

#: validation images held out of the training split when ``val_size`` is null: 1/12 (MNIST: 5,000 of 60,000)
VAL_FRACTION_DENOMINATOR = 12


class ImageDataModule(pl.LightningDataModule):
    """Train/val/test of a dataset in memory, batches cut by indexing.

    Args:
        batch_size: images per batch (per process under DDP).
        val_size: images held out of the training split for validation; null: 1/12 of it
            (5,000 of MNIST's 60,000).
        split_seed: seed of the fixed train/val split (independent of the training seed).
        shuffle_seed: seed of the per-epoch training order.
        limit_train: use only the first ``limit_train`` training images (after the split),
            for quick runs and tests; ``None`` uses all.
        limit_test: likewise for validation and test.
        on_device: move the uint8 images once to the training device (a GPU then never
            waits on the host).
        root: MNIST only: a folder with the four MNIST files instead of the shipped ones
            (md5 checked); the same as ``--data.path`` with ``mnist``.
        dataset: ``mnist`` (shipped), ``fashion-mnist`` (Debian's dataset-fashion-mnist),
            ``idx:PATH`` (a folder of the four IDX files), ``folder:PATH`` (an image folder;
            class subfolders = labels), ``npz:PATH`` / ``npy:PATH`` (uint8 images (N, H, W[, C])).
        path: the dataset's path, instead of ``KIND:PATH`` in ``dataset``.
        image_size: folders: resize every image to this size (int or [H, W]; bilinear);
            needed when the images differ in size.
        channels: folders: 1 (grey) or 3 (RGB); null: 3 if any image has colour, else 1.
        max_bytes: refuse a dataset whose images need more memory than this (default 4 GiB;
            during training the train/val split is held a second time, as a shuffled copy).
        skip_bad_files: folders: skip unreadable images, images over the pixel limit (PIL's
            ``MAX_IMAGE_PIXELS``, 89,478,485 by default) and class subfolders that cannot be
            listed (counted in a warning) instead of failing on the first.
    """

    def __init__(
        self,
        batch_size: int = 128,
        val_size: int | None = None,
        split_seed: int = 0,
        shuffle_seed: int = 0,
        limit_train: int | None = None,
        limit_test: int | None = None,
        on_device: bool = True,
        root: str | None = None,
        dataset: str = "mnist",
        path: str | None = None,
        image_size: int | list[int] | None = None,
        channels: int | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        skip_bad_files: bool = False,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ConfigError(f"Expected `batch_size` >= 1, got {batch_size}.")
        if val_size is not None and val_size < 0:
            raise ConfigError(f"Expected `val_size` >= 0 or null, got {val_size}.")
        for name, value in (("limit_train", limit_train), ("limit_test", limit_test)):
            if value is not None and value < 1:
                raise ConfigError(f"Expected `{name}` >= 1 or null, got {value}.")
        if root is not None:
            if dataset.partition(":")[0] != "mnist" or (path is not None and path != root):
                raise ConfigError("`root` is MNIST's folder; for other datasets use `path` (or `dataset` KIND:PATH).")
            path = root
        self.save_hyperparameters()
        self.data: ImageDataset = load_dataset(dataset, path, image_size, channels, max_bytes, skip_bad_files)
        n_train = len(self.data.train.images)
        if val_size is None:
            val_size = n_train // VAL_FRACTION_DENOMINATOR
        elif val_size >= n_train:
            raise ConfigError(f"Expected `val_size` in [0, {n_train}) for {self.data.spec}, got {val_size}.")
        self.batch_size, self.val_size = batch_size, val_size
        self.split_seed, self.shuffle_seed = split_seed, shuffle_seed
        self.limit_train, self.limit_test = limit_train, limit_test
        self.on_device, self.root = on_device, root
        self._train_loader: TensorBatchLoader | None = None

    def describe(self) -> str:
        """One line for the run's log (:class:`regae.training.progress.EpochSummary` prints it once per fit)."""
        return f"{self.data.summary()}, {self.val_size} of the training images for validation"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the images: what the model is built for."""
        return self.data.shape

    def record(self) -> dict[str, Any]:
        """What a checkpoint stores about the data (see :meth:`ImageDataset.record`)."""
        return self.data.record()

    def state_dict(self) -> dict[str, Any]:
        """Saved by Lightning in every checkpoint (:mod:`regae.data.record`): the data's record."""
        return {RECORD_KEY: self.record()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Nothing to restore: the record describes the data for readers of the checkpoint, and the
        data itself is what the command line names (resuming keeps the same options)."""

    def setup(self, stage: str | None = None) -> None:
        train, test = self.data.train, self.data.test
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


#: the name this class had when it read only MNIST; configs and code that use it keep working
MNISTDataModule = ImageDataModule

"""What every dataset is once loaded: uint8 images in memory, labels, class names, a spec.

Images are stored as uint8 tensors, ``(N, H, W)`` for one channel (as MNIST always was)
and ``(N, C, H, W)`` for more; :func:`to_float` turns either into float ``(N, C, H, W)``
in [0, 1]. An unlabelled dataset has ``classes=None`` and labels of -1.

The helpers here are shared by the loaders (:mod:`regae.data.folder`,
:mod:`regae.data.arrays`, :mod:`regae.data.registry`): the memory cap checked from
shapes before decoding, label checks, and the fixed-seed train/test split for datasets
that come without one.

Labels a user gives are class indices ``0..K-1`` with ``K <= MAX_CLASSES`` (100,000: a
label such as ``2**62`` is refused, not turned into 2**62 class names); ``-1`` means "no
label" and is accepted only for every image of a dataset at once (it is then unlabelled),
any other negative label is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor

from regae.errors import DataError

#: default memory cap of a dataset's images (``--data.max_bytes``)
DEFAULT_MAX_BYTES = 4 * 2**30
#: the most classes a dataset may have: a label is an index in [0, MAX_CLASSES)
MAX_CLASSES = 100_000
#: datasets without a test split: this fraction of the images, drawn with SPLIT_SEED, is the test split
TEST_FRACTION = 1 / 7  # as MNIST: 10,000 of 70,000
SPLIT_SEED = 0


class Split(NamedTuple):
    images: Tensor  # uint8 (N, H, W) grey or (N, C, H, W)
    labels: Tensor  # int64 (N,); -1 when unlabelled


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """A dataset held in memory: train and test splits, its shape and class names.

    ``spec`` names it the way ``--data.dataset`` does, with an absolute path
    (``"mnist"``, ``"folder:/data/cells"``, ``"npz:/data/patches.npz"``); :meth:`record`
    is what a checkpoint stores so :func:`regae.data.load_recorded` loads it again.
    """

    spec: str
    train: Split
    test: Split
    classes: tuple[str, ...] | None  # None: unlabelled
    image_size: tuple[int, int] | None = None  # the resize that was asked for (folders)
    channels: int | None = None  # the channel count that was asked for (folders)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        s = self.train.images.shape
        return (1, s[1], s[2]) if len(s) == 3 else (s[1], s[2], s[3])

    @property
    def labelled(self) -> bool:
        return self.classes is not None

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for part in (self.train, self.test) for t in part)

    def record(self) -> dict[str, Any]:
        """Plain values that identify this dataset (stored in checkpoints)."""
        return {
            "dataset": self.spec, "shape": list(self.shape),
            "classes": list(self.classes) if self.classes is not None else None,
            "image_size": list(self.image_size) if self.image_size is not None else None,
            "channels": self.channels,
        }

    def summary(self) -> str:
        c, h, w = self.shape
        kind = f"{len(self.classes)} classes" if self.classes is not None else "unlabelled"
        return f"{self.spec}: {c}x{h}x{w}, {kind}, train {len(self.train.images)} / test {len(self.test.images)} images"


def to_float(images: Tensor) -> Tensor:
    """uint8 (N, H, W) or (N, C, H, W) -> float32 (N, C, H, W) in [0, 1]."""
    x = images.unsqueeze(1) if images.ndim == 3 else images
    return x.float().div_(255.0)


def nbytes_text(n: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def check_memory(name: str, count: int, shape: tuple[int, ...], max_bytes: int) -> None:
    """DataError when ``count`` uint8 images of ``shape`` need more than ``max_bytes``."""
    need = count * math.prod(shape)
    if need > max_bytes:
        dims = "x".join(str(s) for s in shape)
        raise DataError(
            f"{name}: {count} images of {dims} need {nbytes_text(need)} in memory, more than the cap "
            f"--data.max_bytes={max_bytes} ({nbytes_text(max_bytes)}); raise it, or shrink the images with "
            "--data.image_size (folders)"
        )


def channels_first(images: Tensor, name: str) -> Tensor:
    """uint8 (N, H, W) or (N, H, W, C) -> the stored layout: (N, H, W) for C = 1, else (N, C, H, W)."""
    if images.dtype != torch.uint8:
        raise DataError(f"{name}: expected uint8 images (0..255), got {str(images.dtype).removeprefix('torch.')}")
    if images.ndim == 4 and images.shape[3] == 1:
        images = images[..., 0]
    if images.ndim == 3:
        return images.contiguous()
    if images.ndim == 4:
        return images.permute(0, 3, 1, 2).contiguous()
    raise DataError(f"{name}: expected images of shape (N, H, W) or (N, H, W, C), got {tuple(images.shape)}")


def check_labels(labels: Tensor, n: int, name: str) -> Tensor:
    """int64 (n,) labels in [0, MAX_CLASSES) (or all -1: unlabelled), or DataError saying what is wrong."""
    if labels.ndim != 1 or len(labels) != n:
        raise DataError(f"{name}: expected {n} labels (one per image), got shape {tuple(labels.shape)}")
    if labels.dtype.is_floating_point or labels.dtype == torch.bool or labels.dtype.is_complex:
        raise DataError(f"{name}: expected integer labels, got {str(labels.dtype).removeprefix('torch.')}")
    if n:
        check_label_range(int(labels.min()), int(labels.max()), name)
    return labels.long()


def check_label_range(low: int, high: int, name: str) -> None:
    """DataError unless labels from ``low`` to ``high`` are class indices (or all -1)."""
    if high >= MAX_CLASSES:
        raise DataError(f"{name}: a label is {high}, but labels must be class indices 0..K-1 with at most "
                        f"{MAX_CLASSES:,} classes")
    if low < -1:
        raise DataError(f"{name}: a label is {low}, but labels must be >= 0 (-1 only for a dataset "
                        "without labels, every label -1)")
    if low == -1 and high >= 0:
        raise DataError(f"{name}: labels mix -1 (no label) with class indices 0..{high}; label every image, "
                        "or none (leave `labels` out)")


def unlabelled(n: int) -> Tensor:
    return torch.full((n,), -1, dtype=torch.long)


def split_off_test(images: Tensor, labels: Tensor, name: str) -> tuple[Split, Split]:
    """(train, test) for a dataset without a test split: a fixed-seed 1/7 of the images is test."""
    n = len(images)
    if n < 2:
        raise DataError(f"{name}: need at least 2 images (train and test), found {n}")
    n_test = max(1, round(n * TEST_FRACTION))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    test_idx, train_idx = perm[:n_test].sort().values, perm[n_test:].sort().values
    return Split(images[train_idx], labels[train_idx]), Split(images[test_idx], labels[test_idx])


def class_names_from_labels(*labels: Tensor) -> tuple[str, ...]:
    """'0', '1', ... up to the largest label of any split (labels checked by :func:`check_labels`)."""
    top = max((int(lab.max()) for lab in labels if len(lab)), default=-1)
    if top >= MAX_CLASSES:  # never build a name per integer up to a huge label
        raise DataError(f"a label is {top}, but at most {MAX_CLASSES:,} classes are allowed")
    return tuple(str(i) for i in range(top + 1))

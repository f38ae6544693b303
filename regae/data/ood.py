"""Inputs that are not digits: Fashion-MNIST (if installed) and synthetic noise images.

Fashion-MNIST comes from Debian's package ``dataset-fashion-mnist``, which installs the
four IDX files (same format as MNIST, 28x28 uint8, labels 0..9, 1,000 test images per
class) under ``/usr/share/datasets/fashion-mnist/``. Debian recompresses the gzip files,
so their md5s differ from upstream's; the parser checks the IDX header and sizes instead.

Noise images are drawn with a ``torch.Generator`` so a study run is reproducible:

* uniform: every pixel ~ U(0, 1) (mean 0.5, variance 1/12);
* gaussian: every pixel ~ clip(N(μ, σ²), 0, 1), by default μ = 0.1307, σ = 0.3081, MNIST's
  pixel mean and std, so the images have roughly MNIST's first two moments but no strokes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from regae.data.mnist import Split, read_checked
from regae.errors import DataError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_PACKAGE = "dataset-fashion-mnist"
FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
MNIST_MEAN, MNIST_STD = 0.13066, 0.30811


def fashion_available(root: str | Path | None = None) -> bool:
    """True when all four Fashion-MNIST files are present under ``root``."""
    folder = Path(root) if root is not None else FASHION_DIR
    return all((folder / f).is_file() for pair in FASHION_FILES.values() for f in pair)


def missing_fashion_message(root: str | Path | None = None) -> str:
    folder = Path(root) if root is not None else FASHION_DIR
    return (
        f"Fashion-MNIST not found in {folder}; install it with "
        f"`apt-get install -y {FASHION_PACKAGE}` (or regae/study/install-ood-data.sh)"
    )


@lru_cache(maxsize=2)
def load_fashion(split: str = "test", root: str | None = None) -> Split:
    """Fashion-MNIST ``split`` ('train' or 'test') as uint8 (N, 28, 28) images and int64 labels.

    Raises :class:`DataError` naming the Debian package when the files are missing.
    """
    if split not in FASHION_FILES:
        raise DataError(f"Expected split in {sorted(FASHION_FILES)}, got {split!r}")
    if not fashion_available(root):
        raise DataError(missing_fashion_message(root))
    folder = Path(root) if root is not None else FASHION_DIR
    img_name, lbl_name = FASHION_FILES[split]
    images = read_checked(folder / img_name, None)
    labels = read_checked(folder / lbl_name, None).long()
    if images.ndim != 3 or tuple(images.shape[1:]) != (28, 28) or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(
            f"Fashion-MNIST {split}: images {tuple(images.shape)} and labels {tuple(labels.shape)} are not"
            " (N, 28, 28) / (N,)"
        )
    return Split(images, labels)


def uniform_noise(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, 1, 28, 28) float images with every pixel ~ U(0, 1)."""
    if n < 1:
        raise ValueError(f"Expected `n` >= 1, got {n}.")
    return torch.rand((n, 1, 28, 28), generator=generator)


def gaussian_noise(
    n: int, mean: float = MNIST_MEAN, std: float = MNIST_STD, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(n, 1, 28, 28) float images with every pixel ~ clip(N(mean, std²), 0, 1)."""
    if n < 1:
        raise ValueError(f"Expected `n` >= 1, got {n}.")
    if not std > 0:
        raise ValueError(f"Expected `std` > 0, got {std}.")
    return (mean + std * torch.randn((n, 1, 28, 28), generator=generator)).clamp_(0.0, 1.0)

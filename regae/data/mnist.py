"""The MNIST files shipped inside the package, read offline into uint8 tensors.

Each gzip file is checked against its md5 before it is parsed, so a truncated or
altered file fails with the file's name instead of a wrong tensor.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path

import torch

from regae.data.dataset import Split, to_float
from regae.data.idx import read_idx
from regae.errors import DataError

__all__ = ["FILES", "MNIST_DIR", "Split", "load_split", "md5sum", "read_checked", "read_idx", "to_float"]

MNIST_DIR = Path(__file__).with_name("mnist")

#: split -> (images file, md5, labels file, md5); md5s of the gzip files as shipped.
FILES = {
    "train": (
        ("train-images-idx3-ubyte.gz", "1d473e58ef44e25f798984071547abb4"),
        ("train-labels-idx1-ubyte.gz", "1609bf896b655359423ad367a6da51b2"),
    ),
    "test": (
        ("t10k-images-idx3-ubyte.gz", "78e7617d39dd0f4605369b825dfce8e6"),
        ("t10k-labels-idx1-ubyte.gz", "ef198d564bed981685c30c7da017ac89"),
    ),
}

def md5sum(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def read_checked(path: Path, md5: str | None) -> torch.Tensor:
    """Read one gzip IDX file, verifying its md5 first (if given)."""
    if not path.is_file():
        raise DataError(f"MNIST file missing: {path}")
    if md5 is not None and (got := md5sum(path)) != md5:
        raise DataError(f"MNIST file corrupt: {path} has md5 {got}, expected {md5}")
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise DataError(f"MNIST file unreadable: {path}: {exc}") from None
    return read_idx(raw, path.name)


def load_split(split: str = "train", root: str | None = None) -> Split:
    """Images and labels of ``split`` ('train' or 'test') as uint8 (N, 28, 28) / int64 (N,) tensors.

    ``root`` points at another folder with the same four file names (md5 still checked).
    Cached: the 47 MB of images are read once per process, however the arguments are spelled.
    """
    return _load_split(split, None if root is None else str(root))


@lru_cache(maxsize=4)
def _load_split(split: str, root: str | None) -> Split:
    if split not in FILES:
        raise DataError(f"Expected split in {sorted(FILES)}, got {split!r}")
    folder = Path(root) if root is not None else MNIST_DIR
    (img_name, img_md5), (lbl_name, lbl_md5) = FILES[split]
    images = read_checked(folder / img_name, img_md5)
    labels = read_checked(folder / lbl_name, lbl_md5).long()
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"MNIST {split}: images {tuple(images.shape)} and labels {tuple(labels.shape)} disagree")
    return Split(images, labels)


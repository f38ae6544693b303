"""The MNIST files shipped inside the package, read offline into uint8 tensors.

Each gzip file is checked against its md5 before it is parsed, so a truncated or
altered file fails with the file's name instead of a wrong tensor.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import torch

from regae.errors import DataError

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

_IDX_DTYPES = {0x08: torch.uint8}


class Split(NamedTuple):
    images: torch.Tensor  # (N, 28, 28) uint8
    labels: torch.Tensor  # (N,) int64


def md5sum(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def read_idx(raw: bytes, name: str = "<bytes>") -> torch.Tensor:
    """Parse an (uncompressed) IDX file: magic 0x0000 <dtype> <ndim>, big-endian dims, data."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{name}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    count = 1
    for s in shape:
        count *= s
    if len(raw) != header + count:
        raise DataError(f"{name}: expected {header + count} bytes for shape {shape}, got {len(raw)}")
    data = torch.frombuffer(bytearray(raw[header:]), dtype=torch.uint8)
    return data.reshape(shape)


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


@lru_cache(maxsize=4)
def load_split(split: str = "train", root: str | None = None) -> Split:
    """Images and labels of ``split`` ('train' or 'test') as uint8 / int64 tensors.

    ``root`` points at another folder with the same four file names (md5 still checked).
    Cached: the 47 MB of images are read once per process.
    """
    if split not in FILES:
        raise DataError(f"Expected split in {sorted(FILES)}, got {split!r}")
    folder = Path(root) if root is not None else MNIST_DIR
    (img_name, img_md5), (lbl_name, lbl_md5) = FILES[split]
    images = read_checked(folder / img_name, img_md5)
    labels = read_checked(folder / lbl_name, lbl_md5).long()
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"MNIST {split}: images {tuple(images.shape)} and labels {tuple(labels.shape)} disagree")
    return Split(images, labels)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in [0, 1]."""
    return images.unsqueeze(1).float().div_(255.0)

"""IDX files (the MNIST family's format) read into uint8 tensors, gzipped or not.

An IDX file is ``0x00 0x00 <dtype> <ndim>``, ``ndim`` big-endian uint32 dimensions, then
the data in C order. Only unsigned bytes (dtype 0x08) are accepted: images (N, H, W) and
labels (N,). :func:`idx_shape` reads the header alone (a few bytes of the stream), so the
memory a dataset needs is known before anything is decoded.
"""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path

import torch

from regae.errors import DataError

_UBYTE = 0x08

#: split -> (images, labels) file names, as MNIST and Fashion-MNIST name them (``.gz`` optional)
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _parse_header(raw: bytes, name: str) -> tuple[list[int], int]:
    """(shape, header length) of an IDX byte string, or DataError."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _UBYTE:
        raise DataError(f"{name}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name}: IDX header truncated")
    return [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)], header


def read_idx(raw: bytes, name: str = "<bytes>") -> torch.Tensor:
    """Parse an (uncompressed) IDX byte string into a uint8 tensor of its shape."""
    shape, header = _parse_header(raw, name)
    count = math.prod(shape)
    if len(raw) != header + count:
        raise DataError(f"{name}: expected {header + count} bytes for shape {shape}, got {len(raw)}")
    return torch.frombuffer(bytearray(raw[header:]), dtype=torch.uint8).reshape(shape)


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def idx_shape(path: Path) -> list[int]:
    """The shape in the header of an IDX file (``.gz`` or plain), without reading the data."""
    try:
        with _open(path) as f:
            head = f.read(4)
            raw = head + f.read(4 * head[3]) if len(head) == 4 else head
    except (OSError, EOFError) as exc:
        raise DataError(f"IDX file unreadable: {path}: {exc}") from None
    return _parse_header(raw, str(path))[0]


def read_idx_file(path: Path) -> torch.Tensor:
    """Read a whole IDX file (``.gz`` or plain): at most one byte more than its header says it holds,
    so a file padded or inflated past its shape is refused without reading (or inflating) the rest."""
    try:
        with _open(path) as f:
            head = f.read(4)
            head += f.read(4 * head[3]) if len(head) == 4 else b""
            shape, _ = _parse_header(head, str(path))
            raw = head + f.read(math.prod(shape) + 1)
    except (OSError, EOFError) as exc:
        raise DataError(f"IDX file unreadable: {path}: {exc}") from None
    return read_idx(raw, str(path))


def find_idx_files(folder: Path) -> dict[str, tuple[Path, Path]]:
    """split -> (images path, labels path) in ``folder``; DataError naming the first missing file."""
    if not os.path.isdir(folder):  # False, not PermissionError, under a folder that cannot be read
        raise DataError(f"IDX folder not found: {folder}")
    found = {}
    for split, names in IDX_FILES.items():
        paths = []
        for name in names:
            candidates = [folder / (name + ".gz"), folder / name]
            path = next((p for p in candidates if os.path.isfile(p)), None)
            if path is None:
                raise DataError(f"IDX file missing: {folder / name}[.gz] (a folder needs the four files {_all_names()})")
            paths.append(path)
        found[split] = (paths[0], paths[1])
    return found


def _all_names() -> str:
    return ", ".join(n for pair in IDX_FILES.values() for n in pair)

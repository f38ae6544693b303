"""NumPy files of images: ``.npz`` archives and ``.npy`` arrays, read into uint8 tensors.

* ``npz:PATH``: an archive with ``images`` (N, H, W) or (N, H, W, C) uint8 and optional
  ``labels`` (N,) integer class indices 0..K-1 (K <= 100,000; all -1: unlabelled) and
  ``classes`` (K,) names (strings or integers); optional ``test_images`` (and
  ``test_labels`` when there are labels) give the test split, otherwise a fixed-seed 1/7 of
  the images is the test split.
* ``npy:PATH``: one array of images, unlabelled.

Nothing is decompressed before every member has been checked from the archive's headers
alone: the zip entry's uncompressed size (``ZipInfo.file_size``, which also bounds what
:mod:`zipfile` will ever inflate) and the ``.npy`` header's shape and dtype. A member is
refused when it holds Python objects (``np.load`` never unpickles: ``allow_pickle=False``),
when its shape needs more than ``--data.max_bytes`` (the images together; each other member
on its own), when its entry is shorter than its shape needs (truncated) or unpacks to more
than its shape needs plus ``SIZE_SLACK`` (a padded or inflated member), or when its shape or
dtype is not what its name promises (``labels`` integer (N,), ``classes`` 1-d names). So a
small archive that inflates to gigabytes costs a few KiB of header reads, not the gigabytes.
"""

from __future__ import annotations

import lzma
import math
import os
import struct
import warnings
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from regae.data.dataset import (
    MAX_CLASSES,
    ImageDataset,
    Split,
    channels_first,
    check_label_range,
    check_labels,
    check_memory,
    class_names_from_labels,
    nbytes_text,
    split_off_test,
    unlabelled,
)
from regae.errors import DataError

NPZ_KEYS = ("images", "labels", "test_images", "test_labels", "classes")
#: bytes a member's zip entry may hold beyond its .npy header and data (np.save writes none)
SIZE_SLACK = 64 * 2**10
#: the longest class name in an archive's ``classes``, in characters
MAX_NAME = 256
#: .npy format versions numpy writes
NPY_VERSIONS = ((1, 0), (2, 0), (3, 0))
#: what a damaged or hostile archive raises from zipfile / zlib / numpy's header parser
_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error,
                zlib.error, lzma.LZMAError, NotImplementedError, RuntimeError)


@dataclass(frozen=True)
class _Member:
    """One ``.npy`` entry of an archive, from its headers."""

    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int  # bytes of the .npy magic + header
    file_size: int  # the zip entry's uncompressed size

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def describe(self) -> str:
        return f"{self.shape} {self.dtype}"


def _header(fp) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from a .npy stream's magic and header (at most numpy's 10,000 header bytes)."""
    version = np.lib.format.read_magic(fp)
    if version not in NPY_VERSIONS:
        raise ValueError(f"unknown .npy format version {version}")
    with warnings.catch_warnings():  # a Python 2 header: numpy's note on re-saving is not the user's concern here
        warnings.simplefilter("ignore", UserWarning)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
    return shape, dtype


@contextmanager
def _reading(name: str, what: str = ".npz archive"):
    """Errors from zipfile / zlib / numpy's .npy parser on a damaged or hostile file -> one DataError."""
    try:
        yield
    except _READ_ERRORS as exc:
        raise DataError(f"{name}: not a readable {what} ({type(exc).__name__}: {exc})"[:400]) from None


def _npz_members(zf: zipfile.ZipFile, name: str) -> dict[str, _Member]:
    """key -> :class:`_Member` of every ``.npy`` entry, from the headers alone (names checked first)."""
    keys = {member[:-4]: member for member in zf.namelist() if member.endswith(".npy")}
    if "images" not in keys:
        raise DataError(f"{name}: no `images` array (found: {', '.join(sorted(keys)) or 'none'})"[:400])
    unknown = sorted(set(keys) - set(NPZ_KEYS))
    if unknown:
        raise DataError(f"{name}: unexpected arrays {', '.join(unknown)}; expected some of {', '.join(NPZ_KEYS)}"[:400])
    out = {}
    for key, member in keys.items():
        info = zf.getinfo(member)  # the entry np.load would read too (the last of that name)
        with _reading(name), zf.open(info) as fp:
            shape, dtype = _header(fp)
            out[key] = _Member(tuple(shape), dtype, fp.tell(), info.file_size)
    return out


def _check_member(name: str, key: str, m: _Member, max_bytes: int) -> None:
    """DataError for a member that is objects, negative-sized, truncated or inflated (headers only)."""
    if m.dtype.hasobject:
        raise DataError(f"{name}: `{key}` holds Python objects (dtype {m.dtype}); it must be a plain numeric or "
                        "string array, not objects (regae never unpickles data)")
    if any(d < 0 for d in m.shape):
        raise DataError(f"{name}: `{key}` has a negative dimension in its shape {m.shape}")
    if key not in ("images", "test_images") and m.nbytes > max_bytes:  # the images are capped together below
        raise DataError(f"{name}: `{key}` {m.describe()} would need {nbytes_text(m.nbytes)} in memory, more than "
                        f"the cap --data.max_bytes={max_bytes} ({nbytes_text(max_bytes)})")
    need = m.offset + m.nbytes
    if m.file_size < need:
        raise DataError(f"{name}: `{key}` is truncated: its header says {m.describe()} ({need} bytes), "
                        f"its zip entry holds {m.file_size}")
    if m.file_size > need + SIZE_SLACK:
        raise DataError(f"{name}: `{key}` unpacks to {nbytes_text(m.file_size)}, far more than its shape "
                        f"{m.describe()} needs ({nbytes_text(need)}); refusing a padded or inflated member")


def _check_extras(name: str, members: dict[str, _Member], count: int, test_count: int | None) -> None:
    """Shapes and dtypes of ``labels``, ``test_labels`` and ``classes`` from their headers."""
    for key, n in (("labels", count), ("test_labels", test_count)):
        m = members.get(key)
        if m is None:
            continue
        if m.dtype.kind not in "iu":
            raise DataError(f"{name} `{key}`: expected integer labels, got {m.dtype}")
        if m.shape != (n,):
            raise DataError(f"{name} `{key}`: expected {n} labels (one per image), got shape {m.shape}")
    m = members.get("classes")
    if m is not None and (m.dtype.kind not in "iuUS" or len(m.shape) != 1 or not 1 <= m.shape[0] <= MAX_CLASSES
                          or m.dtype.itemsize > 4 * MAX_NAME):
        raise DataError(f"{name}: expected `classes` as a 1-d array of 1..{MAX_CLASSES:,} names (strings of at "
                        f"most {MAX_NAME} characters, or integers), got {m.describe()}")


def _image_shape(name: str, key: str, shape: tuple[int, ...], dtype: np.dtype) -> tuple[int, ...]:
    """(C, H, W) of one image from an array header, checking dtype and rank."""
    if dtype != np.uint8:
        raise DataError(f"{name}: expected `{key}` of dtype uint8 (0..255), got {dtype}; scale and cast it first")
    if len(shape) not in (3, 4):
        raise DataError(f"{name}: expected `{key}` of shape (N, H, W) or (N, H, W, C), got {shape}")
    if any(d < 0 for d in shape) or any(d < 1 for d in shape[1:]):
        raise DataError(f"{name}: `{key}` has shape {shape}; height, width and channels must be >= 1")
    return (1, shape[1], shape[2]) if len(shape) == 3 else (shape[3], shape[1], shape[2])


def _read_member(zf: zipfile.ZipFile, key: str, name: str) -> np.ndarray:
    """The array of a checked member: exactly the bytes its header promised (plus <= SIZE_SLACK, CRC-checked)."""
    with _reading(name), zf.open(f"{key}.npy") as fp, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        array = np.lib.format.read_array(fp, allow_pickle=False)
        fp.read(SIZE_SLACK + 1)  # the rest of the entry (checked above): zipfile verifies the CRC at its end
    return array


def _labels(array: np.ndarray, name: str) -> torch.Tensor:
    """Integer labels as int64, their range checked on the file's own dtype (a uint64 2**64-1 is not -1)."""
    if array.size:
        check_label_range(int(array.min()), int(array.max()), name)
    return torch.from_numpy(array.astype(np.int64))


def load_npz(path: Path, max_bytes: int) -> ImageDataset:
    name = f"npz:{path}"
    if not os.path.isfile(path):  # False, not PermissionError, under a folder that cannot be read
        raise DataError(f"npz file not found: {path}")
    with _reading(name):
        zf = zipfile.ZipFile(path)
    with zf:
        return _load_npz(zf, name, max_bytes)


def _load_npz(zf: zipfile.ZipFile, name: str, max_bytes: int) -> ImageDataset:
    members = _npz_members(zf, name)
    for key, member in members.items():
        _check_member(name, key, member, max_bytes)
    shape = _image_shape(name, "images", members["images"].shape, members["images"].dtype)
    count = test_count = members["images"].shape[0]
    if "test_images" in members:
        test_shape = _image_shape(name, "test_images", members["test_images"].shape, members["test_images"].dtype)
        if test_shape != shape:
            raise DataError(f"{name}: `test_images` are {test_shape} (C, H, W) but `images` are {shape}")
        test_count = members["test_images"].shape[0]
    has_labels = "labels" in members
    if ("test_labels" in members) != (has_labels and "test_images" in members):
        raise DataError(f"{name}: give `test_labels` exactly when there are both `labels` and `test_images`")
    check_memory(name, count + (test_count if "test_images" in members else 0), shape, max_bytes)
    _check_extras(name, members, count, test_count)

    # every member is now known to fit: read them, the images first (the largest)
    def read_images(key: str) -> torch.Tensor:
        return channels_first(torch.from_numpy(np.ascontiguousarray(_read_member(zf, key, name))), name)

    def read_labels(key: str, n: int) -> torch.Tensor:
        return check_labels(_labels(_read_member(zf, key, name), f"{name} `{key}`"), n, f"{name} `{key}`")

    images = read_images("images")
    labels = read_labels("labels", len(images)) if has_labels else unlabelled(len(images))
    if "test_images" in members:
        test_images = read_images("test_images")
        test_labels = read_labels("test_labels", len(test_images)) if has_labels else unlabelled(len(test_images))
        train, test = Split(images, labels), Split(test_images, test_labels)
    else:
        train, test = split_off_test(images, labels, name)
    if len(train.images) == 0 or len(test.images) == 0:
        raise DataError(f"{name}: the train and test splits need at least one image each")
    if has_labels:  # -1 in every split: the dataset is unlabelled; -1 beside class indices: refused
        both = torch.cat([train.labels, test.labels])
        check_label_range(int(both.min()), int(both.max()), f"{name} `labels` and `test_labels`")
        has_labels = int(both.max()) >= 0
    names = _read_member(zf, "classes", name).tolist() if has_labels and "classes" in members else None
    classes = _classes(name, names, train.labels, test.labels) if has_labels else None
    return ImageDataset(spec=name, train=train, test=test, classes=classes)


def _classes(name: str, names: list | None, *labels: torch.Tensor) -> tuple[str, ...]:
    found = class_names_from_labels(*labels)
    if names is None:
        return found
    if len(names) < len(found):
        raise DataError(f"{name}: `classes` must name every label 0..{len(found) - 1}, got {names!r}"[:300])
    return tuple(n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names)


def load_npy(path: Path, max_bytes: int) -> ImageDataset:
    name = f"npy:{path}"
    if not os.path.isfile(path):  # False, not PermissionError, under a folder that cannot be read
        raise DataError(f"npy file not found: {path}")
    with _reading(name, ".npy file"), open(path, "rb") as fp:
        shape, dtype = _header(fp)
    image_shape = _image_shape(name, "the array", shape, dtype)
    check_memory(name, shape[0], image_shape, max_bytes)
    with _reading(name, ".npy file"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        array = np.load(path, allow_pickle=False)
    images = channels_first(torch.from_numpy(np.ascontiguousarray(array)), name)
    train, test = split_off_test(images, unlabelled(len(images)), name)
    return ImageDataset(spec=name, train=train, test=test, classes=None)

"""NumPy files of images: ``.npz`` archives and ``.npy`` arrays, read into uint8 tensors.

* ``npz:PATH``: an archive with ``images`` (N, H, W) or (N, H, W, C) uint8 and optional
  ``labels`` (N,) integers >= 0 and ``classes`` (K,) names; optional ``test_images`` (and
  ``test_labels`` when there are labels) give the test split, otherwise a fixed-seed 1/7 of
  the images is the test split.
* ``npy:PATH``: one array of images, unlabelled.

Shapes and dtypes are read from the array headers first (``np.load`` never unpickles:
``allow_pickle=False``), so the memory cap is checked before any data is read.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from regae.data.dataset import (
    ImageDataset,
    Split,
    channels_first,
    check_labels,
    check_memory,
    class_names_from_labels,
    split_off_test,
    unlabelled,
)
from regae.errors import DataError

NPZ_KEYS = ("images", "labels", "test_images", "test_labels", "classes")


def _header(fp) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
    return shape, dtype


def _npz_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """key -> (shape, dtype) of every array in an .npz, from the headers alone."""
    try:
        with zipfile.ZipFile(path) as zf:
            out = {}
            for member in zf.namelist():
                if member.endswith(".npy"):
                    with zf.open(member) as fp:
                        out[member[:-4]] = _header(fp)
            return out
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DataError(f"npz:{path}: not a readable .npz archive ({type(exc).__name__}: {exc})") from None


def _image_shape(name: str, key: str, shape: tuple[int, ...], dtype: np.dtype) -> tuple[int, ...]:
    """(C, H, W) of one image from an array header, checking dtype and rank."""
    if dtype != np.uint8:
        raise DataError(f"{name}: expected `{key}` of dtype uint8 (0..255), got {dtype}; scale and cast it first")
    if len(shape) == 3:
        return (1, shape[1], shape[2])
    if len(shape) == 4:
        return (shape[3], shape[1], shape[2])
    raise DataError(f"{name}: expected `{key}` of shape (N, H, W) or (N, H, W, C), got {shape}")


def load_npz(path: Path, max_bytes: int) -> ImageDataset:
    name = f"npz:{path}"
    if not path.is_file():
        raise DataError(f"npz file not found: {path}")
    headers = _npz_headers(path)
    if "images" not in headers:
        raise DataError(f"{name}: no `images` array (found: {', '.join(sorted(headers)) or 'none'})")
    unknown = sorted(set(headers) - set(NPZ_KEYS))
    if unknown:
        raise DataError(f"{name}: unexpected arrays {', '.join(unknown)}; expected some of {', '.join(NPZ_KEYS)}")
    shape = _image_shape(name, "images", *headers["images"])
    count = headers["images"][0][0]
    if "test_images" in headers:
        test_shape = _image_shape(name, "test_images", *headers["test_images"])
        if test_shape != shape:
            raise DataError(f"{name}: `test_images` are {test_shape} (C, H, W) but `images` are {shape}")
        count += headers["test_images"][0][0]
    has_labels = "labels" in headers
    if ("test_labels" in headers) != (has_labels and "test_images" in headers):
        raise DataError(f"{name}: give `test_labels` exactly when there are both `labels` and `test_images`")
    check_memory(name, count, shape, max_bytes)

    with np.load(path, allow_pickle=False) as data:
        arrays = {k: torch.from_numpy(np.ascontiguousarray(data[k])) for k in headers if k != "classes"}
        names = data["classes"].tolist() if "classes" in headers else None
    images = channels_first(arrays["images"], name)
    labels = check_labels(arrays["labels"], len(images), f"{name} `labels`") if has_labels else unlabelled(len(images))
    if "test_images" in arrays:
        test_images = channels_first(arrays["test_images"], name)
        test_labels = (check_labels(arrays["test_labels"], len(test_images), f"{name} `test_labels`")
                       if has_labels else unlabelled(len(test_images)))
        train, test = Split(images, labels), Split(test_images, test_labels)
    else:
        train, test = split_off_test(images, labels, name)
    if len(train.images) == 0 or len(test.images) == 0:
        raise DataError(f"{name}: the train and test splits need at least one image each")
    classes = _classes(name, names, train.labels, test.labels) if has_labels else None
    return ImageDataset(spec=name, train=train, test=test, classes=classes)


def _classes(name: str, names: list | None, *labels: torch.Tensor) -> tuple[str, ...]:
    found = class_names_from_labels(*labels)
    if names is None:
        return found
    if not isinstance(names, list) or len(names) < len(found):
        raise DataError(f"{name}: `classes` must name every label 0..{len(found) - 1}, got {names!r}"[:300])
    return tuple(str(n) for n in names)


def load_npy(path: Path, max_bytes: int) -> ImageDataset:
    name = f"npy:{path}"
    if not path.is_file():
        raise DataError(f"npy file not found: {path}")
    try:
        with open(path, "rb") as fp:
            shape, dtype = _header(fp)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{name}: not a readable .npy file ({type(exc).__name__}: {exc})") from None
    image_shape = _image_shape(name, "the array", shape, dtype)
    check_memory(name, shape[0], image_shape, max_bytes)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{name}: not a readable .npy file ({type(exc).__name__}: {exc})") from None
    images = channels_first(torch.from_numpy(np.ascontiguousarray(array)), name)
    train, test = split_off_test(images, unlabelled(len(images)), name)
    return ImageDataset(spec=name, train=train, test=test, classes=None)

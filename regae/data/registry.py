"""Dataset name -> loader: the one entry point from a spec (or a checkpoint's record) to data.

    load_dataset("mnist")                                 # shipped, md5-checked
    load_dataset("fashion-mnist")                         # Debian's dataset-fashion-mnist files
    load_dataset("idx:/data/kmnist")                      # any folder of the four IDX files
    load_dataset("folder:/data/cells", image_size=64)     # class subfolders = labels
    load_dataset("npz", path="/data/patches.npz")         # images (N,H,W[,C]) uint8 [+ labels]
    load_recorded(model.data_record)                      # the data a checkpoint was trained on

Every loader returns an :class:`~regae.data.dataset.ImageDataset` whose ``spec`` carries an
absolute path, so the record a checkpoint keeps loads the same data from any directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regae.data import ood
from regae.data.arrays import load_npy, load_npz
from regae.data.dataset import (
    DEFAULT_MAX_BYTES,
    ImageDataset,
    Split,
    channels_first,
    check_labels,
    check_memory,
    class_names_from_labels,
)
from regae.data.folder import load_folder
from regae.data.idx import find_idx_files, idx_shape, read_idx_file
from regae.data.mnist import load_split
from regae.data.ood import FASHION_CLASSES, fashion_available, missing_fashion_message
from regae.errors import ConfigError, DataError

#: kind -> whether it needs a path
KINDS = {"mnist": False, "fashion-mnist": False, "idx": True, "folder": True, "npz": True, "npy": True}
MNIST_CLASSES = tuple(str(i) for i in range(10))


@dataclass(frozen=True)
class DataSpec:
    """A validated ``--data.dataset`` / ``--data.path`` pair (path absolute, or None)."""

    kind: str
    path: Path | None = None

    @classmethod
    def parse(cls, dataset: str, path: str | Path | None = None) -> DataSpec:
        """'folder:cells' or ('folder', 'cells') -> DataSpec('folder', /abs/cells)."""
        if not isinstance(dataset, str) or not dataset:
            raise ConfigError(f"Expected `dataset` as a name like 'mnist' or 'folder:PATH', got {dataset!r}.")
        kind, sep, inline = dataset.partition(":")
        if kind not in KINDS:
            raise ConfigError(
                f"Expected `dataset` in {list(KINDS)} (with ':PATH' or --data.path for "
                f"{', '.join(k for k, need in KINDS.items() if need)}), got {dataset!r}."
            )
        if sep and path is not None and Path(inline) != Path(path):
            raise ConfigError(f"`dataset`={dataset!r} names a path and `path`={str(path)!r} another; give one.")
        where = inline if sep else path
        if sep and not inline:
            raise ConfigError(f"Expected a path after '{kind}:' in `dataset`={dataset!r}.")
        if KINDS[kind] and where is None:
            raise ConfigError(f"dataset {kind!r} needs a path: --data.dataset {kind}:PATH (or --data.path PATH).")
        return cls(kind, Path(where).expanduser().resolve() if where is not None else None)

    def __str__(self) -> str:
        return self.kind if self.path is None else f"{self.kind}:{self.path}"


def check_image_size(image_size: int | list[int] | tuple[int, ...] | None) -> tuple[int, int] | None:
    """None, an int (square) or [H, W] -> (H, W), validated."""
    if image_size is None:
        return None
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in size):
        raise ConfigError(f"Expected `image_size` as a positive int or [H, W], got {image_size!r}.")
    return size  # type: ignore[return-value]


def load_dataset(
    dataset: str | DataSpec = "mnist",
    path: str | Path | None = None,
    image_size: int | list[int] | tuple[int, ...] | None = None,
    channels: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    skip_bad_files: bool = False,
) -> ImageDataset:
    """Load the dataset named by ``dataset`` (+ ``path``) into memory (see the module docstring).

    ``image_size`` (H, W) and ``channels`` (1 or 3) apply to image folders; ``max_bytes`` caps
    the images' memory (checked from the file headers before decoding; in an ``.npz`` every
    other member is capped by it too); ``skip_bad_files`` skips unreadable images, images over
    the pixel limit and unreadable subfolders in a folder instead of failing on the first.
    Whatever is wrong with a file, the error is a :class:`~regae.errors.DataError` (or
    :class:`~regae.errors.ConfigError` for an option) naming it.
    """
    spec = dataset if isinstance(dataset, DataSpec) else DataSpec.parse(dataset, path)
    size = check_image_size(image_size)
    if channels is not None and channels not in (1, 3):
        raise ConfigError(f"Expected `channels` 1, 3 or null, got {channels!r}.")
    if not isinstance(max_bytes, int) or max_bytes < 1:
        raise ConfigError(f"Expected `max_bytes` >= 1, got {max_bytes!r}.")
    if spec.kind != "folder" and (size is not None or channels is not None):
        raise ConfigError(f"`image_size` and `channels` apply to image folders only, not to dataset {spec.kind!r}.")
    if spec.kind == "mnist":
        return _mnist(spec)
    if spec.kind == "fashion-mnist":
        return _fashion(spec, max_bytes)
    if spec.kind == "idx":
        return load_idx_folder(spec.path, max_bytes)
    if spec.kind == "folder":
        return load_folder(spec.path, size, channels, max_bytes, skip_bad_files)
    if spec.kind == "npz":
        return load_npz(spec.path, max_bytes)
    return load_npy(spec.path, max_bytes)


def recorded_options(record: Mapping[str, Any] | None) -> dict[str, Any]:
    """The :func:`load_dataset` options (``dataset``, ``image_size``, ``channels``) that read the data a
    checkpoint recorded again (an :class:`~regae.data.datamodule.ImageDataModule` takes the same names);
    None (an old checkpoint): MNIST."""
    record = record or {}
    return {"dataset": record.get("dataset", "mnist"), "image_size": record.get("image_size"),
            "channels": record.get("channels")}


def load_recorded(record: Mapping[str, Any] | None, **overrides: Any) -> ImageDataset:
    """The dataset a checkpoint recorded (``model.data_record``); None (an old checkpoint): MNIST.

    ``overrides`` (e.g. ``max_bytes``) replace the recorded options.
    """
    data = load_dataset(**{**recorded_options(record), **overrides})
    want = (record or {}).get("shape")
    if want is not None and list(data.shape) != list(want):
        raise DataError(f"{data.spec}: images are now {list(data.shape)} (C, H, W), the checkpoint was trained on {want}")
    return data


def _mnist(spec: DataSpec) -> ImageDataset:
    root = str(spec.path) if spec.path is not None else None
    return ImageDataset(spec=str(spec), train=load_split("train", root), test=load_split("test", root),
                        classes=MNIST_CLASSES)


def _fashion(spec: DataSpec, max_bytes: int) -> ImageDataset:
    folder = spec.path or ood.FASHION_DIR  # read at call time: tests point it at a generated copy
    if not fashion_available(folder):
        raise DataError(missing_fashion_message(folder))
    data = load_idx_folder(folder, max_bytes, name=str(spec))
    return ImageDataset(spec=str(spec), train=data.train, test=data.test, classes=FASHION_CLASSES)


def load_idx_folder(folder: Path, max_bytes: int = DEFAULT_MAX_BYTES, name: str | None = None) -> ImageDataset:
    """The four IDX files in ``folder`` (MNIST's names, ``.gz`` or not) as a labelled dataset."""
    name = name or f"idx:{folder}"
    files = find_idx_files(folder)
    shapes = {split: idx_shape(images) for split, (images, _) in files.items()}
    for split, shape in shapes.items():
        if len(shape) not in (3, 4):
            raise DataError(f"{name}: {files[split][0].name} has shape {shape}, expected (N, H, W) or (N, H, W, C)")
        if 0 in shape:
            raise DataError(f"{name}: {files[split][0].name} has shape {shape}; every split needs at least one "
                            "image, of at least 1x1 pixels")
    image_shape = tuple(shapes["train"][1:])
    if tuple(shapes["test"][1:]) != image_shape:
        raise DataError(f"{name}: train images are {image_shape[:2]} but test images {tuple(shapes['test'][1:3])}")
    chw = (image_shape[2] if len(image_shape) == 3 else 1, *image_shape[:2])
    check_memory(name, shapes["train"][0] + shapes["test"][0], chw, max_bytes)
    for split, (_, labels_path) in files.items():  # from the headers too: never read a label file of the wrong size
        labels_shape = idx_shape(labels_path)
        if labels_shape != [shapes[split][0]]:
            raise DataError(f"{name} {labels_path.name}: expected {shapes[split][0]} labels (one per image), "
                            f"got shape {tuple(labels_shape)}")
    splits = {}
    for split, (images_path, labels_path) in files.items():
        images = channels_first(read_idx_file(images_path), name)
        labels = check_labels(read_idx_file(labels_path), len(images), f"{name} {labels_path.name}")
        splits[split] = Split(images, labels)
    return ImageDataset(spec=name, train=splits["train"], test=splits["test"],
                        classes=class_names_from_labels(splits["train"].labels, splits["test"].labels))


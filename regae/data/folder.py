"""A folder of images (PNG, JPEG, ...) read once into uint8 tensors.

Layout, as torchvision's ``ImageFolder``: each subfolder is a class (sorted names, label =
index), its images found recursively; a folder without subfolders is one unlabelled set.
``train/`` and ``test/`` subfolders, when present, are the splits (each laid out as above);
otherwise a fixed-seed 1/7 of the images is the test split (:func:`split_off_test`).
Everything is scanned in sorted order, so the same folder always gives the same tensors.

Reading happens in two passes. The first opens every file's header only (PIL reads the
size and mode lazily): it finds non-image files, sizes and channel counts, and checks the
memory cap before anything is decoded. The second decodes into one preallocated array.

* Files whose extension is not an image's (``README.txt``, ``.DS_Store``) are ignored and
  counted in a warning. A file with an image extension that PIL cannot read is an error
  naming the first such file, or, with ``skip_bad_files``, skipped and counted.
* Channels: grey (PIL modes 1, L, LA, I, I;16, F) gives 1 channel; when any image has
  colour, every image is converted to RGB (3 channels; alpha dropped). ``channels`` (1 or 3)
  forces one or the other.
* Size: all images must have the same size, or ``image_size`` (H, W) is given and every
  image whose size differs is resized to it with PIL's bilinear filter (which widens its
  support when shrinking, i.e. antialiased, like torchvision's ``Resize(antialias=True)``).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from regae.data.dataset import (
    ImageDataset,
    Split,
    check_memory,
    split_off_test,
)
from regae.errors import DataError

log = logging.getLogger(__name__)

#: the extensions torchvision's ImageFolder accepts
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}
RESAMPLE = "BILINEAR"


@dataclass
class _Scan:
    """What the header pass found in one split root."""

    files: list[Path]
    labels: list[int]
    sizes: list[tuple[int, int]]  # (H, W)
    colour: bool
    ignored: int  # files without an image extension
    bad: list[Path]  # image files PIL could not open


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def class_folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _scan(root: Path, classes: list[str] | None) -> _Scan:
    """Header pass over one split root; ``classes`` None: unlabelled (files directly in root)."""
    from PIL import Image, UnidentifiedImageError

    if classes is None:
        entries = [(p, -1) for p in sorted(root.iterdir()) if p.is_file()]
    else:
        entries = []
        for label, name in enumerate(classes):
            entries += [(p, label) for p in _files_under(root / name)]
        # files next to the class folders are not part of any class (as in ImageFolder)
        entries += [(p, -2) for p in sorted(root.iterdir()) if p.is_file()]
    scan = _Scan([], [], [], False, 0, [])
    for path, label in entries:
        if label == -2 or not _is_image(path):
            scan.ignored += 1
            continue
        try:
            with Image.open(path) as im:
                width, height = im.size
                mode = im.mode
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            scan.bad.append(path)
            continue
        scan.files.append(path)
        scan.labels.append(label)
        scan.sizes.append((height, width))
        scan.colour |= mode not in GREY_MODES
    return scan


def _check_sizes(name: str, scans: list[_Scan], image_size: tuple[int, int] | None) -> tuple[int, int]:
    """The common (H, W): ``image_size`` if given, else the one size all images share."""
    if image_size is not None:
        return image_size
    sizes: Counter[tuple[int, int]] = Counter(s for scan in scans for s in scan.sizes)
    if len(sizes) > 1:
        (common, n), (other, _) = sizes.most_common(2)
        example = next(f for scan in scans for f, s in zip(scan.files, scan.sizes) if s == other)
        raise DataError(
            f"{name}: images differ in size ({n} are {common[0]}x{common[1]}, {example} is {other[0]}x{other[1]}, "
            f"{len(sizes)} sizes in all); pass --data.image_size (e.g. {common[0]}) to resize them all"
        )
    return next(iter(sizes))


def _decode(scan: _Scan, size: tuple[int, int], channels: int, skip_bad: bool) -> tuple[np.ndarray, list[int], int]:
    """Decode pass: (uint8 array (n, H, W) or (n, H, W, C), labels, count of files skipped)."""
    from PIL import Image

    resample = getattr(Image.Resampling, RESAMPLE)
    h, w = size
    shape = (len(scan.files), h, w) if channels == 1 else (len(scan.files), h, w, channels)
    out = np.empty(shape, dtype=np.uint8)
    keep, labels, skipped = 0, [], 0
    for path, label in zip(scan.files, scan.labels):
        try:
            with Image.open(path) as im:
                im = im.convert("L" if channels == 1 else "RGB")
                if im.size != (w, h):
                    im = im.resize((w, h), resample)
                out[keep] = np.asarray(im)
        except (OSError, ValueError, SyntaxError) as exc:  # truncated data shows up only when decoding
            if not skip_bad:
                raise DataError(f"image unreadable: {path} ({type(exc).__name__}); "
                                "fix or remove it, or pass --data.skip_bad_files true") from None
            skipped += 1
            continue
        labels.append(label)
        keep += 1
    return out[:keep], labels, skipped


def _split(name: str, scan: _Scan, size: tuple[int, int], channels: int, skip_bad: bool) -> tuple[Split, int]:
    array, labels, skipped = _decode(scan, size, channels, skip_bad)
    images = torch.from_numpy(array)
    if images.ndim == 4:
        images = images.permute(0, 3, 1, 2).contiguous()  # (N, H, W, C) -> (N, C, H, W)
    labels_t = torch.tensor(labels, dtype=torch.long) if labels else torch.zeros(0, dtype=torch.long)
    return Split(images, labels_t), skipped


def load_folder(
    root: Path,
    image_size: tuple[int, int] | None = None,
    channels: int | None = None,
    max_bytes: int = 4 * 2**30,
    skip_bad_files: bool = False,
) -> ImageDataset:
    """Read the image folder at ``root`` (see the module docstring for the layout and rules)."""
    name = f"folder:{root}"
    if not root.is_dir():
        raise DataError(f"image folder not found: {root}")
    split_roots = {"train": root / "train", "test": root / "test"}
    if not split_roots["train"].is_dir():
        split_roots = {"all": root}
    elif not split_roots["test"].is_dir():
        split_roots = {"train": split_roots["train"]}
    first = next(iter(split_roots.values()))
    classes = class_folders(first) or None
    if "test" in split_roots and classes is not None:
        extra = sorted(set(class_folders(split_roots["test"])) - set(classes))
        if extra:
            raise DataError(f"{name}: test/ has classes that train/ lacks: {', '.join(extra)}")
    scans = {k: _scan(v, classes) for k, v in split_roots.items()}

    bad = [p for s in scans.values() for p in s.bad]
    if bad and not skip_bad_files:
        raise DataError(f"{name}: {len(bad)} file(s) with an image extension are not readable images, first: "
                        f"{bad[0]}; fix or remove them, or pass --data.skip_bad_files true")
    n = sum(len(s.files) for s in scans.values())
    if n == 0:
        raise DataError(f"{name}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)}"
                        f"{' in the class folders' if classes else ''})")
    if classes is not None:
        counts = Counter(label for s in scans.values() for label in s.labels)
        empty = [c for i, c in enumerate(classes) if counts[i] == 0]
        if empty:
            raise DataError(f"{name}: class folder(s) without images: {', '.join(empty)}")
    size = _check_sizes(name, list(scans.values()), image_size)
    c = channels if channels is not None else (3 if any(s.colour for s in scans.values()) else 1)
    check_memory(name, n, (c, *size), max_bytes)

    splits, skipped = {}, len(bad)
    for key, scan in scans.items():
        splits[key], more = _split(name, scan, size, c, skip_bad_files)
        skipped += more
    ignored = sum(s.ignored for s in scans.values())
    if ignored or skipped:
        log.warning("%s: ignored %d non-image file(s), skipped %d unreadable image(s)", name, ignored, skipped)
    if "test" in splits:
        train, test = splits["train"], splits["test"]
    else:  # labels of an unlabelled scan are already -1
        train, test = split_off_test(*splits.get("all", splits.get("train")), name)
    if len(test.images) == 0:
        raise DataError(f"{name}: the test split has no images")
    return FolderDataset(
        spec=name, train=train, test=test, classes=tuple(classes) if classes else None,
        image_size=image_size, channels=channels, ignored=ignored, skipped=skipped,
    )


@dataclass(frozen=True, eq=False)
class FolderDataset(ImageDataset):
    """An :class:`ImageDataset` read from a folder, with what was left out of it."""

    ignored: int = 0  # non-image files
    skipped: int = 0  # unreadable images skipped (skip_bad_files)

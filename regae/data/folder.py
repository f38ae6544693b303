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
* Pixel limit: an image of more than :func:`max_image_pixels` pixels (width x height from its
  header) is such a bad file, refused before it is decoded. The limit is PIL's
  ``Image.MAX_IMAGE_PIXELS`` (89,478,485 by default, about 256 MiB as RGB; a program may
  raise or lower it), and regae's own ``MAX_IMAGE_PIXELS`` (the same 89,478,485) where PIL's
  guard is switched off (``None``). Unlike PIL, which only warns up to twice its limit, regae
  refuses at the limit itself, so decoding one image takes at most that many pixels times
  the bytes of its mode (4 for RGBA/CMYK/32-bit modes) plus the 3-byte RGB conversion
  (about 0.6 GiB for a 4-byte mode), whatever the memory cap of the whole dataset.
* Unreadable folders: the dataset folder itself, ``train/`` or ``test/`` that cannot be
  listed (e.g. ``chmod 000``) is always an error naming it. A class folder or a folder below
  it that cannot be listed is an error naming the first, or, with ``skip_bad_files``,
  skipped and counted (its images are left out; a class left without images is still an
  error). Symlinked folders are not followed (as ``Path.rglob``).
* Channels: grey (PIL modes 1, L, LA, I, I;16, F) gives 1 channel; when any image has
  colour, every image is converted to RGB (3 channels; alpha dropped). ``channels`` (1 or 3)
  forces one or the other.
* Size: all images must have the same size, or ``image_size`` (H, W) is given and every
  image whose size differs is resized to it with PIL's bilinear filter (which widens its
  support when shrinking, i.e. antialiased, like torchvision's ``Resize(antialias=True)``).
"""

from __future__ import annotations

import logging
import os
import re
import stat
import warnings
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
#: regae's per-image pixel limit where PIL's own is switched off (PIL's default: int(1024**3 / 4 / 3))
MAX_IMAGE_PIXELS = 89_478_485


def max_image_pixels() -> int:
    """The largest width x height regae decodes: PIL's ``Image.MAX_IMAGE_PIXELS``, or ``MAX_IMAGE_PIXELS`` if None."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    return int(limit) if limit is not None else MAX_IMAGE_PIXELS


@dataclass
class _Scan:
    """What the header pass found in one split root."""

    files: list[Path]
    labels: list[int]
    sizes: list[tuple[int, int]]  # (H, W)
    colour: bool
    ignored: int  # files without an image extension
    bad: list[tuple[Path, str]]  # image files PIL could not open or that exceed the pixel limit, and why
    bad_folders: list[tuple[Path, str]]  # folders below the split root that could not be listed, and why


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


class _TooLarge(ValueError):
    """An image over the pixel limit, found when decoding (the file changed after the header pass)."""


def _reason(exc: BaseException) -> str:
    """A short why for one unreadable file or folder."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(exc, _TooLarge):
        return str(exc)
    if isinstance(exc, UnidentifiedImageError):
        return "PIL cannot identify it as an image"
    if isinstance(exc, Image.DecompressionBombError):  # PIL's own guard, at twice its limit
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        return _pixels_why(f"{int(pixels.group(1)):,}" if pixels else "too many")
    return getattr(exc, "strerror", None) or f"{type(exc).__name__}: {exc}"[:200]


def _pixels_why(pixels: str) -> str:
    from PIL import Image

    source = ("PIL.Image.MAX_IMAGE_PIXELS" if Image.MAX_IMAGE_PIXELS is not None
              else "regae.data.folder.MAX_IMAGE_PIXELS, PIL's guard being off")
    return (f"{pixels} pixels, more than the limit of {max_image_pixels():,} pixels per image ({source}); "
            "a decompression bomb?")


def _is_file(path: Path) -> bool:
    """A regular file (symlinks followed); one that cannot be stat-ed counts, so that opening it names the error."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):  # a broken symlink
        return False
    except OSError:
        return True


def _entries(folder: Path, name: str) -> list[Path]:
    """The entries of a folder the dataset cannot do without (the root, train/, test/), sorted."""
    try:
        with os.scandir(folder) as it:
            return sorted(Path(entry.path) for entry in it)
    except OSError as exc:
        raise DataError(f"{name}: cannot read the folder {folder} ({_reason(exc)}); fix its permissions") from None


def _files_under(folder: Path, bad_folders: list[tuple[Path, str]]) -> list[Path]:
    """Files under ``folder``, recursively, sorted; folders that cannot be listed go to ``bad_folders``."""
    def unreadable(exc: OSError) -> None:
        bad_folders.append((Path(exc.filename) if exc.filename else folder, _reason(exc)))

    files = [Path(top, f) for top, _, names in os.walk(folder, onerror=unreadable) for f in names]
    return sorted(p for p in files if _is_file(p))


def class_folders(root: Path, name: str | None = None) -> list[str]:
    def is_dir(p: Path) -> bool:
        try:
            return stat.S_ISDIR(p.stat().st_mode)
        except OSError:
            return False

    return sorted(p.name for p in _entries(root, name or f"folder:{root}") if is_dir(p) and not p.name.startswith("."))


def _too_large(width: int, height: int) -> str | None:
    """Why an image of this size is refused, or None."""
    return _pixels_why(f"{width}x{height} = {width * height:,}") if width * height > max_image_pixels() else None


def _open(path: Path):
    """PIL's lazy open (header only); regae checks the pixel limit itself, so PIL's bomb warning is not needed."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(path)


def _scan(root: Path, classes: list[str] | None, name: str) -> _Scan:
    """Header pass over one split root; ``classes`` None: unlabelled (files directly in root)."""
    from PIL import Image, UnidentifiedImageError

    scan = _Scan([], [], [], False, 0, [], [])
    if classes is None:
        entries = [(p, -1) for p in _entries(root, name) if _is_file(p)]
    else:
        entries = []
        for label, cls in enumerate(classes):
            entries += [(p, label) for p in _files_under(root / cls, scan.bad_folders)]
        # files next to the class folders are not part of any class (as in ImageFolder)
        entries += [(p, -2) for p in _entries(root, name) if _is_file(p)]
    for path, label in entries:
        if label == -2 or not _is_image(path):
            scan.ignored += 1
            continue
        try:
            with _open(path) as im:
                width, height = im.size
                mode = im.mode
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError,
                EOFError) as exc:
            scan.bad.append((path, _reason(exc)))
            continue
        why = _too_large(width, height)
        if why is not None:
            scan.bad.append((path, why))
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
            with _open(path) as im:
                why = _too_large(*im.size)  # the file may have changed since the header pass
                if why is not None:
                    raise _TooLarge(why)
                im = im.convert("L" if channels == 1 else "RGB")
                if im.size != (w, h):
                    im = im.resize((w, h), resample)
                out[keep] = np.asarray(im)
        except (Image.DecompressionBombError, OSError, ValueError, SyntaxError, EOFError) as exc:
            # truncated data shows up only when decoding
            if not skip_bad:
                raise DataError(f"image unreadable: {path} ({_reason(exc)}); "
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
    if not os.path.isdir(root):  # False, not PermissionError, under a folder that cannot be read
        raise DataError(f"image folder not found: {root}")
    split_roots = {"train": root / "train", "test": root / "test"}
    if not os.path.isdir(split_roots["train"]):  # False, not PermissionError, in a folder that cannot be read
        split_roots = {"all": root}
    elif not os.path.isdir(split_roots["test"]):
        split_roots = {"train": split_roots["train"]}
    first = next(iter(split_roots.values()))
    classes = class_folders(first, name) or None
    if "test" in split_roots and classes is not None:
        extra = sorted(set(class_folders(split_roots["test"], name)) - set(classes))
        if extra:
            raise DataError(f"{name}: test/ has classes that train/ lacks: {', '.join(extra)}")
    scans = {k: _scan(v, classes, name) for k, v in split_roots.items()}

    bad_folders = [b for s in scans.values() for b in s.bad_folders]
    if bad_folders and not skip_bad_files:
        path, why = bad_folders[0]
        raise DataError(f"{name}: {len(bad_folders)} folder(s) cannot be read, first: {path} ({why}); fix their "
                        "permissions, or pass --data.skip_bad_files true to leave them out")
    bad = [b for s in scans.values() for b in s.bad]
    if bad and not skip_bad_files:
        path, why = bad[0]
        raise DataError(f"{name}: {len(bad)} file(s) with an image extension are not readable images, first: "
                        f"{path} ({why}); fix or remove them, or pass --data.skip_bad_files true")
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
    if ignored or skipped or bad_folders:
        log.warning("%s: ignored %d non-image file(s), skipped %d unreadable image(s)%s", name, ignored, skipped,
                    f" and {len(bad_folders)} unreadable folder(s)" if bad_folders else "")
    if "test" in splits:
        train, test = splits["train"], splits["test"]
    else:  # labels of an unlabelled scan are already -1
        train, test = split_off_test(*splits.get("all", splits.get("train")), name)
    if len(test.images) == 0:
        raise DataError(f"{name}: the test split has no images")
    return FolderDataset(
        spec=name, train=train, test=test, classes=tuple(classes) if classes else None,
        image_size=image_size, channels=channels, ignored=ignored, skipped=skipped,
        skipped_folders=len(bad_folders),
    )


@dataclass(frozen=True, eq=False)
class FolderDataset(ImageDataset):
    """An :class:`ImageDataset` read from a folder, with what was left out of it."""

    ignored: int = 0  # non-image files
    skipped: int = 0  # unreadable images skipped (skip_bad_files)
    skipped_folders: int = 0  # unreadable folders skipped (skip_bad_files)

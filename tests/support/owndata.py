"""Generated datasets in each "bring your own data" form, small enough for unit tests.

Every image is drawn from a fixed-seed NumPy generator, so the files are identical on every
run. Classes differ visibly (colour of a blob, or its position), so a few steps of training
see real structure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

RGB_CLASSES = ("blue", "green", "red")


def blob_images(n: int, size: tuple[int, int], channels: int, label: int, seed: int) -> np.ndarray:
    """uint8 (n, H, W) or (n, H, W, C): a soft bright disc on a dim noisy background.

    With 3 channels the disc has the class's colour (label 0 blue, 1 green, 2 red); with 1 its
    centre moves to the right with the label.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.empty((n, h, w, channels), dtype=np.uint8)
    for i in range(n):
        cy = rng.uniform(0.3, 0.7) * h
        cx = (rng.uniform(0.3, 0.7) if channels == 3 else (0.25 + 0.25 * label) + rng.uniform(-0.05, 0.05)) * w
        r = rng.uniform(0.15, 0.3) * min(h, w)
        disc = np.clip(1.5 - np.hypot(yy - cy, xx - cx) / r, 0, 1)  # (H, W) in [0, 1]
        background = rng.uniform(0, 0.2, size=(h, w, channels))
        colour = np.eye(3)[2 - label] if channels == 3 else np.ones(1)
        out[i] = np.clip(255 * (background + disc[..., None] * colour), 0, 255).astype(np.uint8)
    return out[..., 0] if channels == 1 else out


def make_rgb_folder(root: Path, per_class: int = 30, size: int = 32, jpeg_every: int = 0,
                    split: bool = False) -> Path:
    """root/<class>/<i>.png (RGB, size x size) for 3 classes; with ``split``, root/{train,test}/<class>/.

    ``jpeg_every`` > 0 writes every k-th image as JPEG instead.
    """
    from PIL import Image

    for label, name in enumerate(RGB_CLASSES):
        images = blob_images(per_class, (size, size), 3, label, seed=label)
        for i, img in enumerate(images):
            part = ("test" if i % 5 == 0 else "train") if split else ""
            folder = root / part / name
            folder.mkdir(parents=True, exist_ok=True)
            ext = "jpg" if jpeg_every and i % jpeg_every == 0 else "png"
            Image.fromarray(img, "RGB").save(folder / f"{i:04d}.{ext}")
    return root


def make_grey_npz(path: Path, n: int = 120, size: int = 48, classes: int = 3, **extra: np.ndarray) -> Path:
    """An .npz with ``images`` uint8 (n, size, size) and ``labels`` (n,) in 0..classes-1 (+ ``extra`` arrays)."""
    labels = np.arange(n) % classes
    images = np.stack([blob_images(1, (size, size), 1, int(k), seed=i)[0] for i, k in enumerate(labels)])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, images=images, labels=labels, **extra)
    return path


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file of unsigned bytes (gzipped when ``path`` ends in .gz)."""
    import gzip

    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    raw = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw)


def make_idx_folder(root: Path, n_train: int = 90, n_test: int = 30, size: int = 20) -> Path:
    """The four MNIST-named IDX files of grey size x size images in 3 classes (train gzipped, test plain)."""
    root.mkdir(parents=True, exist_ok=True)
    for split, n, suffix in (("train", n_train, ".gz"), ("t10k", n_test, "")):
        labels = np.arange(n) % 3
        images = np.stack([blob_images(1, (size, size), 1, int(k), seed=1000 + i)[0] for i, k in enumerate(labels)])
        write_idx(root / f"{split}-images-idx3-ubyte{suffix}", images)
        write_idx(root / f"{split}-labels-idx1-ubyte{suffix}", labels.astype(np.uint8))
    return root

"""Canvas or upload -> the 28x28 MNIST-style image a model sees. Pure numpy/PIL, no Gradio.

MNIST's own normalisation (LeCun et al.): the digit's bounding box is scaled so that its
longest side is 20 px (aspect kept), and pasted into a 28x28 frame so that its centre of
mass  (Σ_ij v_ij·(i, j)) / Σ_ij v_ij  lies at pixel (14, 14) (0-based row, column).
The shipped MNIST has exactly these statistics: longest side 20, mean centre (13.99, 14.00).

Polarity: a canvas is black ink on white, MNIST is white ink on black. Whichever is the
background (the brighter or darker majority, i.e. the median) becomes 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, UnidentifiedImageError

from regae.errors import RegaeError

SIDE = 28  # output frame
BOX = 20  # longest side of the digit inside the frame
CENTRE = 14.0  # target centre of mass (row, column), 0-based
INK_THRESHOLD = 0.1  # ink below this (on [0, 1]) is background noise / anti-aliasing haze
MIN_EXTENT = 1 / 8  # ink bbox smaller than this fraction of the image: "just a dot"
MAX_UPLOAD_BYTES = 10 * 2**20
MAX_UPLOAD_PIXELS = 25_000_000
CANVAS = 280  # side of the drawing canvas (10 x 28)


class InputImageError(RegaeError):
    """A drawing or upload cannot become a digit (empty, unreadable, too large)."""


class Prepared(NamedTuple):
    image: np.ndarray  # (28, 28) float32 in [0, 1], white ink on black
    note: str | None  # a warning worth showing the user (e.g. "only a dot"), or None


def to_gray(image: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 3) or (H, W, 4) uint8/float -> (H, W) float32 in [0, 1].

    RGBA is composited onto white first: a transparent PNG stores RGB 0 under alpha 0,
    so dropping alpha would turn its background black.
    """
    a = np.asarray(image)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)) or a.size == 0:
        raise InputImageError(f"expected a grey, RGB or RGBA image, got an array of shape {a.shape}")
    a = a.astype(np.float32)
    if a.max(initial=0) > 1.0:  # uint8-style range
        a = a / 255.0
    if a.ndim == 2:
        return np.clip(a, 0, 1)
    if a.shape[2] == 4:
        alpha = a[..., 3:4]
        a = a[..., :3] * alpha + (1 - alpha)  # over white
    if a.shape[2] == 1:
        return np.clip(a[..., 0], 0, 1)
    gray = a[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 luma, as PIL "L"
    return np.clip(gray, 0, 1)


def ink(gray: np.ndarray, threshold: float = INK_THRESHOLD) -> np.ndarray:
    """(H, W) gray in [0, 1] -> ink in [0, 1]: the background (the median's side) is 0."""
    v = 1.0 - gray if np.median(gray) > 0.5 else gray
    return np.where(v < threshold, 0.0, v).astype(np.float32)


def centre_of_mass(v: np.ndarray) -> tuple[float, float]:
    """(row, column) of Σ v·(i, j) / Σ v, 0-based; v must have positive mass."""
    total = float(v.sum())
    rows, cols = np.arange(v.shape[0]), np.arange(v.shape[1])
    return float(v.sum(1) @ rows) / total, float(v.sum(0) @ cols) / total


def to_mnist(v: np.ndarray) -> Prepared:
    """Ink map (H, W) in [0, 1] -> MNIST-style (28, 28): crop, fit 20 px, centre of mass at (14, 14).

    The paste offset is clamped so the digit stays inside the frame (a lopsided digit may
    then sit up to a few px off the exact centre rather than wrap around the border).
    """
    if not np.any(v > 0):
        raise InputImageError("the image is empty: draw a digit (or upload one) first")
    r = np.flatnonzero(v.any(1))
    c = np.flatnonzero(v.any(0))
    crop = v[r[0] : r[-1] + 1, c[0] : c[-1] + 1]  # (h, w)
    h, w = crop.shape
    note = None
    if max(h, w) < MIN_EXTENT * max(v.shape):
        note = f"the ink covers only {h}x{w} px of a {v.shape[0]}x{v.shape[1]} image; it is scaled up as it is"
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(crop.astype(np.float32)).resize((nw, nh), Image.LANCZOS))
    small = np.clip(small, 0, 1)  # LANCZOS rings slightly outside [0, 1]
    if small.sum() <= 0:
        raise InputImageError("the ink is too faint to read as a digit")
    cr, cc = centre_of_mass(small)
    top = int(np.clip(round(CENTRE - cr), 0, SIDE - nh))
    left = int(np.clip(round(CENTRE - cc), 0, SIDE - nw))
    out = np.zeros((SIDE, SIDE), dtype=np.float32)
    out[top : top + nh, left : left + nw] = small
    return Prepared(out, note)


def prepare(image: np.ndarray | None) -> Prepared:
    """Any image array (canvas composite, upload, MNIST digit) -> :class:`Prepared` 28x28."""
    if image is None:
        raise InputImageError("the image is empty: draw a digit (or upload one) first")
    return to_mnist(ink(to_gray(image)))


def sketch_image(value: dict | np.ndarray | None) -> np.ndarray | None:
    """The image in a Gradio sketchpad value ``{"background", "layers", "composite"}`` (or an array)."""
    if value is None or isinstance(value, np.ndarray):
        return value
    if not isinstance(value, dict):
        raise InputImageError(f"unexpected canvas value of type {type(value).__name__}")
    if value.get("composite") is not None:
        return np.asarray(value["composite"])
    return None if value.get("background") is None else np.asarray(value["background"])


def for_canvas(image: np.ndarray, side: int = CANVAS) -> np.ndarray:
    """An image shown on the canvas: black ink on white RGB, fitted into side x side (uint8)."""
    v = ink(to_gray(image), threshold=0.0)  # (H, W), ink 1
    pil = Image.fromarray((v * 255).round().astype(np.uint8))
    if pil.width > side or pil.height > side or max(pil.size) < side // 2:
        f = side / max(pil.size)
        resample = Image.NEAREST if f >= 2 else Image.LANCZOS  # keep MNIST's pixels crisp
        pil = pil.resize((max(1, round(pil.width * f)), max(1, round(pil.height * f))), resample)
    frame = Image.new("L", (side, side), 0)
    frame.paste(pil, ((side - pil.width) // 2, (side - pil.height) // 2))
    white_bg = 255 - np.asarray(frame)
    return np.repeat(white_bg[..., None], 3, axis=2)  # (side, side, 3)


def read_upload(path: str | Path) -> np.ndarray:
    """Decode an uploaded file to an (H, W, 3|4) uint8 array, refusing non-images and huge files."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        raise InputImageError(f"upload not readable: {path.name}") from None
    if size > MAX_UPLOAD_BYTES:
        raise InputImageError(f"upload too large: {size / 2**20:.1f} MB (limit {MAX_UPLOAD_BYTES // 2**20} MB)")
    try:
        with Image.open(path) as im:
            w, h = im.size  # header only, nothing decoded yet
            if w * h > MAX_UPLOAD_PIXELS:
                raise InputImageError(f"image too large: {w}x{h} px (limit {MAX_UPLOAD_PIXELS // 10**6} megapixels)")
            im.draft("L", (4 * CANVAS, 4 * CANVAS))  # JPEG: decode at reduced size
            im = im.convert("RGBA")
            im.thumbnail((4 * CANVAS, 4 * CANVAS))
            return np.asarray(im)
    except InputImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InputImageError(f"not an image file Pillow can read: {path.name} ({type(exc).__name__})") from None

"""Canvas or upload -> the image a model sees, (H, W) or (C, H, W). Pure numpy/PIL, no Gradio.

A :class:`Frame` says what a model takes and how an input is made into it:

* **MNIST's recipe** for 1x28x28 models of MNIST and of IDX datasets (the MNIST format; KMNIST
  and EMNIST were made the same way). MNIST's own normalisation (LeCun et al.): the digit's
  bounding box is scaled so that its longest side is 20 px (aspect kept), and pasted into a
  28x28 frame so that its centre of mass  (Σ_ij v_ij·(i, j)) / Σ_ij v_ij  lies at pixel (14, 14)
  (0-based row, column). The shipped MNIST has exactly these statistics: longest side 20, mean
  centre (13.99, 14.00).
* **The whole image resized** to (H, W) for every other model. Cropping and re-centring would
  be wrong there: other datasets fill their frame (Fashion-MNIST, photos, patches), and where a
  thing lies in it may be what it is. A colour upload gets the bilinear, antialiased resize
  ``--data.image_size`` applies to image folders, so it is made the way the model's data was. A
  grey canvas is averaged over the area of each model pixel (PIL's BOX): a dataset image shown
  on the canvas (stretched over it, nearest neighbour) then comes back as itself (measured mean
  error 0.002 at 48x48, against 0.022 with bilinear, which blurs the images' fine noise).

Grey (one channel): whichever of ink and background is the majority (the median) is the
background; it becomes the data's background, 0 for dark data (MNIST: white ink on black, a
canvas: black ink on white), 1 for bright. Colour uploads to grey models use the ITU-R 601
luma, as PIL's "L" (and so as the data layer); grey uploads to colour models repeat the grey
in all three channels.
"""

from __future__ import annotations

import functools
import io
import re
import warnings
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
DATA_RESIZE = Image.BILINEAR  # as regae.data.folder resizes to --data.image_size (colour uploads)
CANVAS_RESIZE = Image.BOX  # canvas -> model pixels: the mean of the canvas under each pixel


# Pillow warns about images of 89 to 179 megapixels as it opens them; read_image refuses anything over
# MAX_UPLOAD_PIXELS itself, from the same header, with its own message.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class InputImageError(RegaeError):
    """A drawing or upload cannot become a digit (empty, unreadable, too large)."""


class Frame(NamedTuple):
    """What a model takes, and how a drawing or upload is made into it (see the module docstring)."""

    shape: tuple[int, int, int]  # (C, H, W)
    mnist: bool = True  # MNIST's recipe (crop, 20 px, centre of mass in 28x28); False: resize the whole image
    dark_background: bool = True  # one channel: the data's background is dark and its ink bright, as MNIST

    @property
    def colour(self) -> bool:
        return self.shape[0] == 3

    def describe(self) -> str:
        """``1x28x28 grey`` / ``3x32x32 colour``."""
        c, h, w = self.shape
        return f"{c}x{h}x{w} {'colour' if self.colour else 'grey'}"


MNIST_FRAME = Frame((1, 28, 28))


def frame_for(shape: tuple[int, int, int], kind: str, images: np.ndarray) -> Frame:
    """The frame of a model taking ``shape`` (C, H, W), trained on data of ``kind`` (``mnist``, ``folder``, ...).

    ``images``: uint8 images of that data (a few hundred are plenty); their median pixel says
    whether its background is dark.
    """
    c, h, w = (int(v) for v in shape)
    if c not in (1, 3):
        raise InputImageError(f"the demo shows grey or colour images, not {c} channels")
    mnist = (c, h, w) == (1, 28, 28) and kind in ("mnist", "idx")
    return Frame((c, h, w), mnist, bool(np.median(np.asarray(images)) < 128))


class Prepared(NamedTuple):
    image: np.ndarray  # float32 in [0, 1]: (H, W) grey, (3, H, W) colour; MNIST: (28, 28), white ink on black
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


def resize(image: np.ndarray, size: tuple[int, int], resample: int = DATA_RESIZE) -> np.ndarray:
    """(h, w) float or (h, w, 3) uint8 -> (H, W)[, 3] (unchanged if already that size)."""
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    pil = Image.fromarray(image.astype(np.float32) if image.ndim == 2 else image)
    return np.asarray(pil.resize((w, h), resample))


def to_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 3) or (H, W, 4) uint8 -> (H, W, 3) uint8: RGBA flattened onto white, grey repeated."""
    a = np.asarray(image)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)) or a.size == 0:
        raise InputImageError(f"expected a grey, RGB or RGBA image, got an array of shape {a.shape}")
    if a.dtype != np.uint8:
        a = np.clip(np.round(a * 255 if a.max(initial=0) <= 1.0 else a), 0, 255).astype(np.uint8)
    if a.ndim == 2 or a.shape[2] == 1:
        return np.repeat(a.reshape(*a.shape[:2], 1), 3, axis=2)
    if a.shape[2] == 4:
        alpha = a[..., 3:4].astype(np.float32) / 255
        return np.round(a[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)  # over white
    return a


def prepare(image: np.ndarray | None, frame: Frame = MNIST_FRAME) -> Prepared:
    """Any image array (canvas composite, upload, dataset image) -> :class:`Prepared` for ``frame``."""
    c, h, w = frame.shape
    if image is None:
        raise InputImageError("no image: upload one first" if frame.colour
                              else "the image is empty: draw a digit (or upload one) first")
    if frame.colour:
        rgb = resize(to_rgb(image), (h, w))  # (H, W, 3)
        return Prepared(rgb.transpose(2, 0, 1).astype(np.float32) / 255, None)
    if frame.mnist:
        out = to_mnist(ink(to_gray(image)))
        return out if frame.dark_background else out._replace(image=1 - out.image)
    v = ink(to_gray(image), threshold=0.0)  # the image's background -> 0
    if not np.any(v > 0):
        raise InputImageError("the image is empty: draw something (or upload an image) first")
    v = np.clip(resize(v, (h, w), CANVAS_RESIZE), 0, 1)
    return Prepared((v if frame.dark_background else 1 - v).astype(np.float32), None)


def sketch_image(value: dict | np.ndarray | str | Path | bytes | None) -> np.ndarray | None:
    """The image in a canvas value ``{"background", "layers", "composite"}`` (or an image itself), decoded.

    The app's canvases hand their images over undecoded (file paths, or the bytes the editor
    sent): they are read here by :func:`read_image`, with the limits of an upload, so a canvas
    value cannot make the server decode a 6000x6000 PNG. The composite is the drawing; the
    background stands in when there is none; layers are never read.
    """
    if isinstance(value, dict):
        value = value.get("composite") if value.get("composite") is not None else value.get("background")
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        if value.ndim >= 2 and value.shape[0] * value.shape[1] > MAX_UPLOAD_PIXELS:
            raise InputImageError(too_many_pixels(value.shape[1], value.shape[0]))
        return value
    if isinstance(value, (str, Path, bytes, bytearray, memoryview)):
        return read_image(value)
    raise InputImageError(f"unexpected canvas value of type {type(value).__name__}")


def for_canvas(image: np.ndarray, side: int = CANVAS, fill: bool = False) -> np.ndarray:
    """An image shown on the canvas: black ink on white RGB, fitted into side x side (uint8).

    ``fill``: stretched over the whole canvas, for frames that resize the whole canvas back
    (:func:`prepare` without MNIST's recipe), so what is shown is all that is seen.
    """
    v = ink(to_gray(image), threshold=0.0)  # (H, W), ink 1
    pil = Image.fromarray((v * 255).round().astype(np.uint8))
    if fill:
        resample = Image.NEAREST if min(side / pil.width, side / pil.height) >= 2 else Image.LANCZOS
        pil = pil.resize((side, side), resample)
    elif pil.width > side or pil.height > side or max(pil.size) < side // 2:
        f = side / max(pil.size)
        resample = Image.NEAREST if f >= 2 else Image.LANCZOS  # keep MNIST's pixels crisp
        pil = pil.resize((max(1, round(pil.width * f)), max(1, round(pil.height * f))), resample)
    frame = Image.new("L", (side, side), 0)
    frame.paste(pil, ((side - pil.width) // 2, (side - pil.height) // 2))
    white_bg = 255 - np.asarray(frame)
    return np.repeat(white_bg[..., None], 3, axis=2)  # (side, side, 3)


def too_many_pixels(width: int, height: int) -> str:
    return f"image too large: {width}x{height} px (limit {MAX_UPLOAD_PIXELS // 10**6} megapixels)"


def read_upload(path: str | Path, colour: bool = False) -> np.ndarray:
    """Decode an uploaded file to an (H, W, 4) uint8 RGBA array, refusing non-images and huge files.

    Without ``colour`` a JPEG may be decoded straight to grey (faster); with it, never.
    """
    return read_image(Path(path), colour)


def read_image(source: str | Path | bytes | bytearray | memoryview, colour: bool = False) -> np.ndarray:
    """A file (a path) or its bytes (a canvas blob) -> (H, W, 4) uint8 RGBA, at most 4 x CANVAS on a side.

    The same limits for every image a visitor sends, upload or canvas, checked before anything
    is decoded: at most MAX_UPLOAD_BYTES of file, and at most MAX_UPLOAD_PIXELS pixels as the
    image's header states them (``Image.open`` reads only the header). So a 16 KB PNG that
    says 13000x13000 is refused without decoding its 169 megapixels, and what is decoded is
    bounded: at most 25 megapixels in the file's own mode, once, reduced to 4 x CANVAS on a
    side before it is converted to RGBA.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name, size, opener = "the canvas image", len(data), functools.partial(io.BytesIO, data)
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError:
            raise InputImageError(f"upload not readable: {path.name}") from None
        name, opener = path.name, functools.partial(open, path, "rb")
    if size > MAX_UPLOAD_BYTES:
        raise InputImageError(f"upload too large: {size / 2**20:.1f} MB (limit {MAX_UPLOAD_BYTES // 2**20} MB)")
    try:
        with opener() as f, Image.open(f) as im:
            w, h = im.size  # header only, nothing decoded yet
            if w * h > MAX_UPLOAD_PIXELS:
                raise InputImageError(too_many_pixels(w, h))
            im.draft("RGB" if colour else "L", (4 * CANVAS, 4 * CANVAS))  # JPEG: decode at reduced size
            if im.mode not in ("L", "LA", "RGB", "RGBA"):  # palette, 1-bit, 16-bit, CMYK...: RGBA first
                im = im.convert("RGBA")
            im.thumbnail((4 * CANVAS, 4 * CANVAS))  # decodes (once) and reduces, in the file's own mode
            return np.asarray(im.convert("RGBA"))
    except InputImageError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own limit (2 x 89 megapixels), met in Image.open
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(pixels.group(1)) // 10**6} megapixels" if pixels else "too many pixels"
        raise InputImageError(f"image too large: {size} (limit {MAX_UPLOAD_PIXELS // 10**6} megapixels)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InputImageError(f"not an image file Pillow can read: {name} ({type(exc).__name__})") from None
    except MemoryError:
        raise InputImageError(f"not enough memory to read {name}; try a smaller image") from None

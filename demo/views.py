"""What the page shows, made from the predictor's answers: images, strips, table, cards. No Gradio.

Images are zoomed with nearest neighbours so the model's pixels stay visible, by a whole factor
chosen per model so that a panel or tile has about the same size whatever the input size (for
MNIST's 28x28: x6 for the panels, x4 per strip tile).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from demo.card import describe_model, preset_line, training_line
from demo.insight import N_TRAIN
from demo.predictor import Loaded, Predictor, Result
from demo.units import Units, as_uint8

SEEN_PX = 168  # side of the "what the model sees" panels (28 x 6)
TILE_PX = 112  # side of one interpolation tile (28 x 4)
UNIT_TILE_PX = 84  # side of one tile of the unit view's row (28 x 3)
GAP = 4  # px between tiles
NO_CLASS = "—"  # the table's class cells when the data has no classes
SHOWN_CLASS_NAMES = 5  # class names listed in the line under the model menu


def zoom_for(shape: tuple[int, ...], px: int) -> int:
    """The whole zoom factor that brings an image of ``shape`` (..., H, W) closest to ``px`` on its longer side."""
    return max(1, round(px / max(shape[-2:])))


def zoom(image: np.ndarray, factor: int) -> np.ndarray:
    """(H, W) or (H, W, 3) float in [0, 1] -> (H*f, W*f[, 3]) uint8, nearest neighbour (pixels stay visible)."""
    return as_uint8(image).repeat(factor, 0).repeat(factor, 1)


def as_hwc(t) -> np.ndarray:
    """One image (C, H, W), a tensor or an array -> (H, W) for grey, (H, W, C) for colour."""
    a = t.numpy() if hasattr(t, "numpy") else np.asarray(t)
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)


def grid_image(rows: list[np.ndarray], zoom_factor: int = 4, gap: int = GAP) -> np.ndarray:
    """Rows of n tiles, (n, H, W[, 3]) floats in [0, 1] each -> one uint8 image (rT + (r+1)g, nT + (n+1)g[, 3]),
    T = H * zoom, tiles on grey gutters of ``gap`` px."""
    n, th, tw = len(rows[0]), rows[0].shape[1] * zoom_factor, rows[0].shape[2] * zoom_factor
    out = np.full((len(rows) * (th + gap) + gap, n * tw + (n + 1) * gap, *rows[0].shape[3:]), 96, dtype=np.uint8)
    for row, images in enumerate(rows):
        top = gap + row * (th + gap)
        for i, im in enumerate(images):
            left = gap + i * (tw + gap)
            out[top : top + th, left : left + tw] = zoom(im, zoom_factor)
    return out


def strips_image(pixel: np.ndarray, latent: np.ndarray, zoom_factor: int = 4, gap: int = GAP) -> np.ndarray:
    """Two rows of n tiles, (n, H, W[, 3]) each -> one image (2T + 3g, nT + (n+1)g[, 3]) uint8, T = H * zoom."""
    return grid_image([pixel, latent], zoom_factor, gap)


def unit_image(units: Units, j: int, test_images, zoom_factor: int, gap: int = GAP) -> np.ndarray:
    """What unit ``j`` codes, in one row: its decoder image, a white space of ``3 * gap`` px, then its
    top-activating test images (uint8 (N, H, W) or (N, C, H, W)), largest h_j first."""
    tops = np.asarray(test_images[units.top[j]]).reshape(len(units.top[j]), *units.decoded.shape[1:])  # (n, C, H, W)
    decoder, top = (grid_image([np.stack([as_hwc(t) for t in tiles / 255.0])], zoom_factor, gap)
                    for tiles in (units.decoded[j][None], tops))
    space = np.full((decoder.shape[0], 3 * gap, *decoder.shape[2:]), 255, dtype=np.uint8)
    return np.concatenate([decoder, space, top], axis=1)


def fmt_psnr(value: float) -> str:
    return "∞" if math.isinf(value) and value > 0 else f"{value:.2f}"


def table_rows(result: Result, class_names: tuple[str, ...] | None) -> list[list[str]]:
    """One row per α: α, class of h_α, class of h'_α, PSNR, ‖h_α − h'_α‖₂ (classes NO_CLASS if none)."""
    it = result.interpolation
    n = len(it.alphas)
    if class_names is None or result.pixel_classes is None:
        pixel, latent = [NO_CLASS] * n, [NO_CLASS] * n
    else:
        pixel = [class_names[k] for k in result.pixel_classes.tolist()]
        latent = [class_names[k] for k in result.latent_classes.tolist()]
    return [
        [f"{a:.3f}", cp, cl, fmt_psnr(p), f"{d:.4f}"]
        for a, cp, cl, p, d in zip(it.alphas.tolist(), pixel, latent, it.psnr.tolist(), it.latent_dist.tolist())
    ]


def label_value(proba: np.ndarray, class_names: tuple[str, ...]) -> dict[str, float]:
    """Class probabilities (K,) -> {name: p} for ``gr.Label``."""
    return {name: float(p) for name, p in zip(class_names, proba)}


class InputView(NamedTuple):
    """How the page asks for A and B under one model."""

    draw: bool  # canvases (one channel) or image uploads (colour)
    noun: str  # "Digit" (MNIST's recipe) or "Image": "Digit A: the image is empty"
    seen_label: str  # size of what the model sees: "28x28", "32x32 colour"
    classes: bool  # whether the model's codes get classes
    pick: str  # the random pair button
    note: str  # the line under the model menu: input, data, how to give A and B, classes


def input_view(name: str, m: Loaded) -> InputView:
    """The :class:`InputView` of checkpoint ``name``."""
    frame, ref, ins = m.frame, m.reference, m.insight
    _, h, w = frame.shape
    if ref.class_names is None:
        data = f"{ref.name}, no labels"
    else:
        more = ", …" if len(ref.class_names) > SHOWN_CLASS_NAMES else ""
        shown = ", ".join(ref.class_names[:SHOWN_CLASS_NAMES]) + more
        data = f"{ref.name}, {len(ref.class_names)} classes: {shown}"
    if frame.colour:
        how = f"upload two images (the canvases are for one-channel models); each is resized to {h}x{w}."
    elif frame.mnist:
        how = "draw or upload two digits."
    else:
        how = f"draw or upload two images; the whole canvas is resized to {h}x{w}."
    note = f"`{name}` takes **{frame.describe()}** images ({data}): {how}"
    if ins.no_classes:
        note += " " + ins.no_classes
    return InputView(
        draw=not frame.colour, noun="Digit" if frame.mnist else "Image",
        seen_label=f"{h}x{w}" + (" colour" if frame.colour else ""), classes=ins.classifier is not None,
        pick=f"Random {ref.name} test pair", note=note,
    )


def cards_markdown(directory: Path, predictor: Predictor, status: dict[str, str | None]) -> str:
    """One row per checkpoint: its data and input, how it was trained (read from the file), what it measures;
    then the notes that say how those figures were measured."""
    table, notes = cards(directory, predictor, status)
    return table + ("\n\n" + notes if notes else "")


def cards(directory: Path, predictor: Predictor, status: dict[str, str | None]) -> tuple[str, str]:
    """(the table of :func:`cards_markdown`, its notes) apart: the page shows the notes in its "About" section."""
    try:  # shorter, and no home directories in screenshots
        directory = directory.resolve().relative_to(Path.cwd())
    except ValueError:
        pass
    if not status:
        return (f"**No checkpoints found in `{directory}`.** Copy the report's with "
                "`bash demo/update_checkpoints.sh` or start with `python -m demo --checkpoints DIR`."), ""
    rows = ["| checkpoint | data, input | trained as (preset) | training | model | test PSNR "
            "| class of code: test accuracy | map: classes apart (5-NN) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    tested: dict[str, int] = {}  # data name -> test images
    fitted: set[int] = set()
    unlabelled = []
    cached: list[str] = []
    for name, err in status.items():
        if err is not None:  # one line, and a "|" in it must not split the table's cells
            reason = " ".join(err.split()).replace("|", "\\|")
            rows.append(f"| `{name}` | | **unusable**: {reason} | | | | | |")
            continue
        m = predictor.loaded(name)
        ins = m.insight
        tested[ins.reference] = ins.n_test
        if ins.classifier is not None:
            fitted.add(ins.n_train)
            accuracy = f"{100 * ins.accuracy:.1f} %"
        else:
            accuracy = f"{NO_CLASS} (no labels)" if m.reference.class_names is None else f"{NO_CLASS} (one class)"
            if ins.no_classes not in unlabelled:
                unlabelled.append(ins.no_classes)
        projection = ins.map.projection
        apart = f"{projection.kind}: {100 * ins.separation:.1f} %" if ins.separation is not None else \
            f"{projection.kind}: {NO_CLASS}"
        if ins.from_cache:
            cached.append(f"`{name}`")
        rows.append(f"| `{name}` | {ins.reference}, {m.frame.describe()} | {preset_line(m.card)} "
                    f"| {training_line(m.card)} | {describe_model(m.card.hparams)} | {ins.test_psnr:.2f} dB "
                    f"| {accuracy} | {apart} |")
    notes = ""
    if tested:
        if len(tested) == 1:
            (data, n), = tested.items()
            on = f"the {n:,} {data} test images"
        else:
            on = "each checkpoint's own test images (" + ", ".join(f"{n:,} {d}" for d, n in tested.items()) + ")"
        codes = f"{next(iter(fitted)):,}" if len(fitted) == 1 else f"up to {N_TRAIN:,}"
        notes = (f"Test PSNR and the accuracy of the class shown for each code are measured at start-up on {on} "
                 "(checkpoints do not store them)"
                 + (f"; the class comes from a logistic regression fitted on the codes of {codes} training images. "
                    if fitted else ". ")
                 + "".join(f"{u} " for u in unlabelled)
                 + "The map is a linear projection fitted on the training codes: Fisher's linear discriminant "
                   "(LD) for labelled data, principal components (PC) otherwise. Its column is the test accuracy "
                   "of a 5-nearest-neighbour classifier fitted on the training codes' 2-D points: how far apart "
                   "the classes lie on the map (chance: about 1 / the number of classes). "
                 + (f"Read back from the analysis cache (`python -m demo --cache`): {', '.join(cached)}. "
                    if cached else "")
                 + "“≈ preset”: the packaged preset closest to the checkpoint's hyperparameters.")
    return f"Checkpoints in `{directory}`:\n\n" + "\n".join(rows), notes

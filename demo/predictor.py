"""The demo's model side, without Gradio: load checkpoints once, reconstruct, interpolate, classify, map.

For two prepared images A, B ((H, W) or (C, H, W) in [0, 1], the model's input shape) and α on
an even grid 0 = α_0 < ... < α_{n-1} = 1 (α is the weight of B, so the strips run from A on the
left to B on the right):

    pixel row  : D(h_α),  h_α = E((1-α) A + α B)      decode the encoded pixel mix
    latent row : D(h'_α), h'_α = (1-α) E(A) + α E(B)   decode the latent mix
    PSNR(pixel, latent) and ‖h_α − h'_α‖₂ per α (+inf and 0 at α = 0, 1)

computed by :func:`regae.analysis.interpolation.interpolate`. Per checkpoint, once
(:mod:`demo.insight`), on the data it was trained on (:func:`regae.checkpoints.read.load_data`; the
checkpoints of one folder may come from different datasets, each read once): a classifier on
the codes, which names the class of A, B and of every h_α and h'_α (none for unlabelled data),
and a map (a linear projection fitted on the training codes: Fisher's linear discriminant, or
PCA for unlabelled data) on which the test codes and both routes are drawn. With a ``cache``
folder that analysis is read back from disk when the same checkpoint bytes were analysed on the
same data before (:mod:`demo.cache`). A checkpoint that fails in any way, however unexpected, is
unusable with a one-line reason; the others are served (a cache that fails is only bypassed).
"""

from __future__ import annotations

import gc
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

import regae
from demo.cache import AnalysisCache, data_fingerprint, entry_key, file_sha256
from demo.card import Card, card_from
from demo.draw import Frame, frame_for
from demo.insight import N_TRAIN, Insight, Reference, analyse, check_finite, reference_from
from regae.analysis.interpolation import Interpolation, interpolate
from regae.analysis.tsne import subset_indices
from regae.checkpoints.read import model_from, read_checkpoint
from regae.errors import CheckpointError, ConfigError, RegaeError

MIN_STEPS, MAX_STEPS, DEFAULT_STEPS = 2, 33, 6
PREFERRED = ("sparse", "contractive")  # listed first, in this order
REASON_CHARS = 300  # an unusable checkpoint's reason is cut to one line of at most this many characters

log = logging.getLogger("demo")


class Seen(NamedTuple):
    """Digits as the model sees them, and what it makes of them."""

    inputs: Tensor  # (B, C, H, W)
    reconstructions: Tensor  # (B, C, H, W) D(E(x))
    codes: Tensor  # (B, d) E(x)
    proba: np.ndarray | None  # (B, K) class probabilities from the code classifier; None: no classes
    points: np.ndarray  # (B, 2) E(x) on the map


class Result(NamedTuple):
    inputs: Tensor  # (2, C, H, W) A and B as the model sees them
    reconstructions: Tensor  # (2, C, H, W) D(E(A)), D(E(B))
    interpolation: Interpolation  # alphas (n,), pixel/latent (n, C, H, W), psnr (n,), latent_dist (n,)
    proba: np.ndarray | None  # (2, K) class probabilities of A and B (None here and below: no classes)
    pixel_codes: Tensor  # (n, d) h_α = E((1-α) A + α B)
    latent_codes: Tensor  # (n, d) h'_α = (1-α) h_0 + α h_1 (the line between the routes' shared ends)
    pixel_classes: np.ndarray | None  # (n,) predicted class of h_α
    latent_classes: np.ndarray | None  # (n,) predicted class of h'_α
    pixel_points: np.ndarray  # (n, 2) h_α on the map
    latent_points: np.ndarray  # (n, 2) h'_α on the map


def alphas_for(steps: int) -> Tensor:
    """``steps`` evenly spaced α in [0, 1], both ends included: (steps,)."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer, float)) or steps != int(steps):
        raise ConfigError(f"Expected `steps` an integer in [{MIN_STEPS}, {MAX_STEPS}], got {steps!r}.")
    steps = int(steps)
    if not MIN_STEPS <= steps <= MAX_STEPS:
        raise ConfigError(f"Expected `steps` in [{MIN_STEPS}, {MAX_STEPS}], got {steps}.")
    return torch.linspace(0.0, 1.0, steps)


def list_checkpoints(directory: str | Path) -> dict[str, Path]:
    """name -> path of the ``*.ckpt`` files in ``directory`` (sparse, contractive first)."""
    directory = Path(directory)
    if not directory.is_dir():
        return {}
    found = {p.stem: p for p in sorted(directory.glob("*.ckpt")) if p.is_file()}
    order = [n for n in PREFERRED if n in found] + [n for n in found if n not in PREFERRED]
    return {n: found[n] for n in order}


class Loaded(NamedTuple):
    mtime: float  # of the file when it was read: a replaced checkpoint is read again
    model: regae.AutoEncoder
    card: Card
    insight: Insight
    reference: Reference  # the data it was trained on (shared with the other checkpoints of that data)
    frame: Frame  # what it takes, and how a drawing or upload is made into it


def training_data(model: regae.AutoEncoder) -> Reference:
    """The data ``model`` was trained on, as its checkpoint records it (old checkpoints: MNIST)."""
    from regae.checkpoints.read import load_data

    return reference_from(load_data(model))


def data_key(model: regae.AutoEncoder) -> str:
    """Checkpoints with the same key were trained on the same data (their references are shared)."""
    return json.dumps([model.data_record, list(model.input_shape)], sort_keys=True, default=str)


def one_line(text: str, limit: int = REASON_CHARS) -> str:
    """``text`` on one line (whitespace runs made single spaces), cut to ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_reason(name: str, exc: Exception) -> str:
    """Why checkpoint ``name`` is unusable, in one line: a CheckpointError's own message, else the exception's."""
    if isinstance(exc, CheckpointError):
        return one_line(str(exc)) or f"{name}: unusable checkpoint"
    if isinstance(exc, MemoryError):
        return one_line(f"{name}: out of memory while loading or analysing it (MemoryError{': ' if str(exc) else ''}"
                        f"{exc})")
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return one_line(f"{name}: cannot be loaded ({detail})")


class Predictor:
    """Models from one checkpoint folder, each loaded and analysed once (again only if its file changes).

    ``reference(model)`` gives the images the classifier, test PSNR and map are computed on:
    by default the data the checkpoint was trained on (:func:`training_data`). It is called once per
    dataset (:func:`data_key`), on first need; a dataset that cannot be read makes its
    checkpoints unusable, with the reason. ``cache``: a folder where analyses are kept between
    starts (:mod:`demo.cache`; None, the default here: computed every time).
    """

    def __init__(self, checkpoint_dir: str | Path, device: str | torch.device = "cpu",
                 reference: Callable[[regae.AutoEncoder], Reference] = training_data,
                 cache: str | Path | None = None) -> None:
        self.checkpoint_dir = Path(checkpoint_dir)
        self.device = torch.device(device)
        self.cache = AnalysisCache(cache) if cache is not None else None
        self._reference_fn = reference
        self._references: dict[str, Reference] = {}
        self._fingerprints: dict[str, str] = {}  # data key -> demo.cache.data_fingerprint of its reference
        self._cache: dict[str, Loaded] = {}
        self._failed: dict[str, tuple[float, str]] = {}  # name -> (mtime, reason) of an unusable checkpoint
        self._lock = threading.Lock()  # one checkpoint is read and analysed at a time, never twice

    def names(self) -> list[str]:
        return list(list_checkpoints(self.checkpoint_dir))

    def loaded(self, name: str) -> Loaded:
        """Model, card and insight of ``<checkpoint_dir>/<name>.ckpt``; ``CheckpointError`` if unusable.

        Whatever goes wrong with one checkpoint (any ``Exception``: a malformed dict, NaN codes,
        MemoryError, a bug) makes that checkpoint unusable with a one-line reason, and nothing
        else: the others are still served. A failure is remembered like a success, until the
        file changes. KeyboardInterrupt and SystemExit are not caught.
        """
        paths = list_checkpoints(self.checkpoint_dir)
        if name not in paths:
            known = ", ".join(paths) or "none"
            raise CheckpointError(f"no checkpoint {name!r} in {self.checkpoint_dir} (available: {known})")
        path = paths[name]
        try:
            mtime = path.stat().st_mtime
        except OSError:
            raise CheckpointError(f"checkpoint not found: {path}") from None
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None and cached.mtime == mtime:
                return cached
            failed = self._failed.get(name)
            if failed is not None and failed[0] == mtime:
                raise CheckpointError(failed[1])
            self._cache.pop(name, None)  # a replaced file: its old model is not served in its place
            try:
                cached = self._load(name, path, mtime)
            except Exception as exc:  # noqa: BLE001 -- one checkpoint must never take the demo down
                reason = failure_reason(name, exc)
                log.debug("checkpoint %s is unusable", name, exc_info=True)
            else:
                self._failed.pop(name, None)
                self._cache[name] = cached
                return cached
            # Raised here, outside the except: the failed load's frames (a huge model, say) can be freed now.
            self._failed[name] = (mtime, reason)
        gc.collect()
        raise CheckpointError(reason)

    def _load(self, name: str, path: Path, mtime: float) -> Loaded:
        ckpt = read_checkpoint(path)  # the file is read once: model and card come from the same dict
        model = model_from(ckpt, path).to(self.device).eval()
        card = card_from(name, ckpt)  # before the analysis: malformed metadata fails in a millisecond, not seconds
        ref = self._reference_for(name, model)
        try:
            frame = frame_for(model.input_shape, ref.kind, ref.test_images[:500].numpy())
            insight = self._insight(path, mtime, model, ref)  # NonFiniteError: NaN or inf codes, caught
        except CheckpointError:                                # before scikit-learn sees them
            raise
        except RegaeError as exc:
            raise CheckpointError(f"{name}: {exc}") from None
        return Loaded(mtime, model, card, insight, ref, frame)

    def _insight(self, path: Path, mtime: float, model: regae.AutoEncoder, ref: Reference) -> Insight:
        """:func:`demo.insight.analyse`, or its result read back from the cache (and saved there when computed)."""
        if self.cache is None:
            return analyse(model, ref)
        key = self._cache_key(path, model, ref)
        if path.stat().st_mtime != mtime:  # replaced while it was read: do not file it under the new bytes
            return analyse(model, ref)
        insight = self.cache.load(key, model.latent_dim)
        if insight is None:
            insight = analyse(model, ref)
            self.cache.save(key, insight)
        return insight

    def _cache_key(self, path: Path, model: regae.AutoEncoder, ref: Reference) -> str:
        data = data_key(model)
        if data not in self._fingerprints:
            self._fingerprints[data] = data_fingerprint(ref, subset_indices(len(ref.train_labels), N_TRAIN, 0))
        settings = {"n_train": N_TRAIN, "seed": 0, "device": self.device.type}
        return entry_key(file_sha256(path), self._fingerprints[data], settings)

    def _reference_for(self, name: str, model: regae.AutoEncoder) -> Reference:
        key = data_key(model)
        if key not in self._references:
            try:
                self._references[key] = self._reference_fn(model)
            except RegaeError as exc:  # moved or missing data, an unrecorded dataset, a record this version cannot read
                raise CheckpointError(f"the data {name} was trained on cannot be read: {exc}") from None
            except Exception as exc:  # noqa: BLE001 -- a malformed record, a data file the reader chokes on
                raise CheckpointError(f"the data {name} was trained on cannot be read: "
                                      f"{type(exc).__name__}: {exc}") from None
        return self._references[key]

    def model(self, name: str) -> regae.AutoEncoder:
        return self.loaded(name).model

    def status(self) -> dict[str, str | None]:
        """Load and analyse every checkpoint now: name -> None if usable, else the reason it is not (one line)."""
        out: dict[str, str | None] = {}
        for name in self.names():
            try:
                self.loaded(name)
                out[name] = None
            except Exception as exc:  # noqa: BLE001 -- loaded() raises CheckpointError; anything else is listed too
                out[name] = failure_reason(name, exc)
        return out

    def _batch(self, images: list[np.ndarray], shape: tuple[int, int, int]) -> Tensor:
        """Images (H, W) or (C, H, W) in [0, 1] -> (B, C, H, W) float32 on the device."""
        x = torch.from_numpy(np.stack(images).astype(np.float32))
        if tuple(x.shape[1:]) not in (shape, shape[1:] if shape[0] == 1 else shape):
            raise ConfigError(f"Expected images of shape {shape[1:] if shape[0] == 1 else shape}, "
                              f"got {tuple(x.shape[1:])}.")
        return x.reshape(len(x), *shape).clamp(0, 1).to(self.device)

    @torch.no_grad()
    def see(self, name: str, images: list[np.ndarray]) -> Seen:
        """What model ``name`` makes of each image: reconstruction, code, class probabilities, map point."""
        m = self.loaded(name)
        x = self._batch(images, m.insight.image_shape)  # (B, C, H, W)
        h = m.model.encode(x)  # (B, d)
        check_finite(h, f"{name}: the model gives non-finite codes (NaN or inf) for this image")
        recon = m.model.decode(h)  # (B, C, H, W)
        check_finite(recon, f"{name}: the model gives non-finite reconstructions for this image")
        h = h.float().cpu()
        clf = m.insight.classifier
        proba = clf.proba(h.numpy()) if clf is not None else None
        return Seen(x.cpu(), recon.cpu(), h, proba, m.insight.map.projection.project(h.numpy()))

    @torch.no_grad()
    def run(self, name: str, a: np.ndarray, b: np.ndarray, steps: int = DEFAULT_STEPS) -> Result:
        """Reconstructions, classes and the interpolation between A and B under model ``name``."""
        alphas = alphas_for(steps).to(self.device)
        m = self.loaded(name)
        seen = self.see(name, [a, b])
        x = seen.inputs.to(self.device)  # (2, C, H, W)
        # interpolate() mixes α x1 + (1-α) x2: x1 = B, x2 = A makes α the weight of B.
        interp = interpolate(m.model, x[1], x[0], alphas)
        # The codes on both routes. The same expression and batch as interpolate() uses, so h_α is
        # bit-for-bit the code it decoded, and the latent line runs between the routes' shared ends.
        w = alphas.view(-1, 1, 1, 1)
        h_pix = m.model.encode(w * x[1] + (1 - w) * x[0]).float().cpu()  # (n, d)
        check_finite(h_pix, f"{name}: the model gives non-finite codes (NaN or inf) between A and B")
        check_finite(torch.cat([interp.pixel, interp.latent]),
                     f"{name}: the model gives non-finite images (NaN or inf) between A and B")
        a_ = alphas.view(-1, 1).cpu()
        h_lat = (a_ * h_pix[-1] + (1 - a_) * h_pix[0])  # (n, d)
        h_lat[0], h_lat[-1] = h_pix[0], h_pix[-1]
        clf, projection = m.insight.classifier, m.insight.map.projection
        classes = (clf.predict(h_pix.numpy()), clf.predict(h_lat.numpy())) if clf is not None else (None, None)
        return Result(
            seen.inputs, seen.reconstructions, Interpolation(*(t.cpu() for t in interp)), seen.proba,
            h_pix, h_lat, *classes, projection.project(h_pix.numpy()), projection.project(h_lat.numpy()),
        )

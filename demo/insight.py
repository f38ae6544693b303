"""What the demo knows about a model beyond one drawing, computed once per checkpoint.

From the model's codes h = E(x) of reference images, the data it was trained on (MNIST for the
shipped checkpoints; :func:`reference_from` makes one from any :class:`regae.data.ImageDataset`):

* for labelled data, a classifier on the codes of ``n_train`` training images (the report's linear probe: logistic
  regression on standardised codes) and its accuracy ``mean(ŷ == y)`` on every test image;
* the test PSNR over all test images as ``regae test`` computes it (one MSE over every pixel of
  the set, :mod:`regae.model.inference`);
* the 2-D PCA map of the test codes (:mod:`demo.latent_map`), coloured by class when labelled.

Unlabelled data (or labels of one class only) gives no classifier and no accuracy: ``classifier``
is None and ``no_classes`` says why, in a sentence for the page. A model whose codes or
reconstructions are not all finite (NaN weights, or finite ones that overflow) raises
:class:`NonFiniteError` ("the model gives non-finite codes ..."), before scikit-learn sees them.

Cost, measured on the shipped slim U-Nets with one torch thread: about 5 s of CPU per
checkpoint (encoding 20,000 training images 2.4 s, encoding and decoding the 10,000 test images
2.5 s, fitting and rendering 0.3 s); on the shared 2-core machine at a load average of 13 that
took 25 s of wall time. No Gradio here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from demo.latent_map import LatentMap, render
from regae.analysis.probe import CLASSIFIERS
from regae.analysis.tsne import subset_indices
from regae.errors import RegaeError
from regae.model.inference import encode, psnr_from_mse, run

N_TRAIN = 20_000  # training codes for the classifier (as the report's probe)
BATCH = 250  # images per batch through the model: measured fastest with one torch thread
CLASSIFIER = "logistic regression"


class NonFiniteError(RegaeError):
    """A model gives NaN or inf (codes, reconstructions): its checkpoint is unusable, or this input is."""


def check_finite(values: Tensor | np.ndarray, message: str) -> None:
    """Raise :class:`NonFiniteError` with ``message`` unless every value is finite (no NaN, no ±inf).

    Codes are checked before scikit-learn sees them: it refuses NaN with its own ValueError, and
    the map's PCA would turn them into a LinAlgError.
    """
    finite = torch.isfinite(values).all() if isinstance(values, Tensor) else np.isfinite(values).all()
    if not bool(finite):
        raise NonFiniteError(message)


def count_non_finite(values: Tensor) -> int:
    """Rows (images, codes) of ``values`` (N, ...) holding any NaN or inf."""
    return int((~torch.isfinite(values.reshape(len(values), -1))).any(1).sum())


class Reference(NamedTuple):
    """Images a model is judged on: uint8 (N, H, W) or (N, C, H, W), int64 labels (N,) (-1: unlabelled)."""

    name: str  # for people: "MNIST", "folder:cells"
    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    class_names: tuple[str, ...] | None  # None: unlabelled
    spec: str = "mnist"  # as --data.dataset, with its absolute path

    @property
    def kind(self) -> str:
        """``mnist``, ``folder``, ``npz``, ... (the part of ``spec`` before the colon)."""
        return self.spec.partition(":")[0]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image as the model takes it."""
        shape = tuple(self.test_images.shape[1:])
        return (1, *shape) if len(shape) == 2 else shape


def mnist_reference() -> Reference:
    """The shipped MNIST (read once per process by ``regae.load_split``)."""
    from regae.data import load_split

    train, test = load_split("train"), load_split("test")
    return Reference("MNIST", train.images, train.labels, test.images, test.labels, tuple(str(k) for k in range(10)))


def data_name(spec: str) -> str:
    """A dataset's name for people: ``MNIST``, ``Fashion-MNIST``, ``folder:cells`` (no directories)."""
    kind, _, path = spec.partition(":")
    if not path:
        return {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}.get(kind, kind)
    return f"{kind}:{Path(path).name}"


def reference_from(data) -> Reference:
    """The :class:`Reference` of a :class:`regae.data.ImageDataset` (no copy of the images)."""
    return Reference(data_name(data.spec), data.train.images, data.train.labels, data.test.images,
                     data.test.labels, data.classes, data.spec)


def as_images(images: Tensor, shape: tuple[int, int, int]) -> Tensor:
    """uint8 (N, H, W) or (N, C, H, W) -> uint8 (N, C, H, W) of the model's input ``shape`` (no copy)."""
    return images.reshape(len(images), *shape)


class CodeClassifier:
    """Class probabilities for codes (n, d); fitted on labelled codes, read-only afterwards (thread-safe)."""

    def __init__(self, codes: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], seed: int = 0) -> None:
        if len(set(labels.tolist())) < 2:
            raise ValueError(f"Expected labels of at least 2 classes, got {sorted(set(labels.tolist()))}.")
        self.class_names = class_names
        self._clf = CLASSIFIERS[CLASSIFIER](seed).fit(codes, labels)
        self._classes = self._clf.classes_  # (K',) the labels seen, a subset of range(len(class_names))

    def proba(self, codes: np.ndarray | Tensor) -> np.ndarray:
        """(n, d) -> (n, len(class_names)); classes absent from the training labels get 0."""
        codes = np.asarray(codes, dtype=np.float32).reshape(-1, self._clf.n_features_in_)
        p = np.zeros((len(codes), len(self.class_names)))
        p[:, self._classes] = self._clf.predict_proba(codes)
        return p

    def predict(self, codes: np.ndarray | Tensor) -> np.ndarray:
        """(n, d) -> (n,) class indices."""
        return self.proba(codes).argmax(1)


@dataclass(frozen=True)
class Insight:
    classifier: CodeClassifier | None  # None: no classes to learn (see no_classes)
    accuracy: float | None  # of the classifier on all test codes
    test_psnr: float  # dB, over all test images
    n_train: int  # training codes the classifier was fitted on
    n_test: int
    map: LatentMap
    reference: str  # the name of the reference data, e.g. "MNIST"
    image_shape: tuple[int, int, int]  # (C, H, W)
    seconds: float  # wall time it took to compute
    no_classes: str | None = None  # why there is no classifier, as a sentence; None when there is one


def analyse(model, ref: Reference, n_train: int = N_TRAIN, seed: int = 0) -> Insight:
    """Classifier, accuracy, test PSNR and map of ``model`` on ``ref`` (a few seconds; call once)."""
    t0 = time.perf_counter()
    shape = ref.image_shape
    idx = subset_indices(len(ref.train_labels), n_train, seed)  # the report's probe uses the same subset
    y_train, y_test = ref.train_labels[idx].numpy(), ref.test_labels.numpy()
    no_classes = why_no_classes(ref, y_train)
    if no_classes is None:
        h_train = encode(model, as_images(ref.train_images[idx], shape), BATCH)  # (n, d)
        _finite_codes(h_train, f"{ref.name} training images")
    test = run(model, as_images(ref.test_images, shape), BATCH)  # codes (N, d), squared error per image (N,)
    h_test = test.codes
    _finite_codes(h_test, f"{ref.name} test images")
    if (bad := count_non_finite(test.sq_err)) > 0:
        raise NonFiniteError(f"the model gives non-finite reconstructions (NaN or inf) for {bad:,} of "
                             f"{len(test.sq_err):,} {ref.name} test images")
    clf, accuracy = None, None
    if no_classes is None:
        clf = CodeClassifier(h_train.numpy(), y_train, ref.class_names, seed)
        accuracy = float((clf.predict(h_test.numpy()) == y_test).mean())
    psnr = float(psnr_from_mse(test.sq_err.mean()))
    names = ref.class_names if no_classes is None else None
    latent_map = render(h_test.numpy(), y_test, names, seed=seed)
    return Insight(clf, accuracy, psnr, len(idx) if clf is not None else 0, len(y_test), latent_map, ref.name, shape,
                   time.perf_counter() - t0, no_classes)


def _finite_codes(codes: Tensor, of: str) -> None:
    if (bad := count_non_finite(codes)) > 0:
        raise NonFiniteError(f"the model gives non-finite codes (NaN or inf) for {bad:,} of {len(codes):,} {of}")


def why_no_classes(ref: Reference, train_labels: np.ndarray) -> str | None:
    """Why no classifier can be fitted on ``ref`` (a sentence), or None when one can."""
    if ref.class_names is None:
        return (f"{ref.name} has no labels, so no class is shown for the codes and the map is not "
                "coloured by class.")
    if len(set(train_labels.tolist())) < 2:
        return (f"{ref.name}'s training images are all of one class, so no class is shown for the codes "
                "and the map is not coloured by class.")
    return None

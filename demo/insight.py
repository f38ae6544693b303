"""What the demo knows about a model beyond one drawing, computed once per checkpoint.

From the model's codes h = E(x) of reference images, the data it was trained on (MNIST for the
shipped checkpoints; :func:`reference_from` makes one from any :class:`regae.data.ImageDataset`):

* for labelled data, a classifier on the codes of ``n_train`` training images (the report's linear probe: logistic
  regression on standardised codes) and its accuracy ``mean(ŷ == y)`` on every test image;
* the test PSNR over all test images as ``regae test`` computes it (one MSE over every pixel of
  the set, :mod:`regae.model.inference`);
* the 2-D map (:mod:`demo.latent_map`): a linear projection fitted on the same ``n_train`` training
  codes (Fisher's linear discriminant when labelled, PCA when not) on which every test code is
  drawn, coloured by class when labelled, and how well the classes separate on it: the accuracy
  of a 5-NN fitted on the training codes' 2-D points, on the test codes' 2-D points;
* what each latent unit codes (:mod:`demo.units`): how often it is active, its top-activating test
  images, its decoder image and the values it takes, for the page's unit view.

Unlabelled data (or labels of one class only) gives no classifier and no accuracy: ``classifier``
is None and ``no_classes`` says why, in a sentence for the page. A model whose codes or
reconstructions are not all finite (NaN weights, or finite ones that overflow) raises
:class:`NonFiniteError` ("the model gives non-finite codes ..."), before scikit-learn sees them.

Cost, with one torch thread on the shared 2-core machine: about 5 s of CPU per checkpoint for
the slim U-Nets of the tests (widths 8/16/32), 23–33 s for the full-size ones the demo serves
(16/32/64, docs/report-full), nearly all of it encoding 20,000 training and encoding and decoding
10,000 test images; fitting, the map's 5-NN, rendering and the unit statistics (0.06 s) take under
a second. So :mod:`demo.cache` keeps the result on disk, keyed by the checkpoint's bytes and the
data. No Gradio here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from demo.latent_map import LatentMap, fit_projection, knn_accuracy, render
from demo.units import Units, code_kind, unit_stats
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
    the map's projection would turn them into a LinAlgError.
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
    """Class probabilities for codes (n, d); fitted on labelled codes, read-only afterwards (thread-safe).

    The classifier is :data:`regae.analysis.probe.CLASSIFIERS`' logistic regression on standardised
    codes; once fitted it is kept as its parameters alone (:meth:`params`), and probabilities are
    computed from them with numpy (softmax of the linear scores; the logistic function for two
    classes), as scikit-learn does. So a classifier read back from the cache
    (:meth:`from_params`) gives exactly the probabilities of the one fitted.
    """

    def __init__(self, codes: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], seed: int = 0) -> None:
        if len(set(labels.tolist())) < 2:
            raise ValueError(f"Expected labels of at least 2 classes, got {sorted(set(labels.tolist()))}.")
        pipeline = CLASSIFIERS[CLASSIFIER](seed).fit(codes, labels)
        scaler, linear = pipeline[0], pipeline[-1]
        self._set(class_names, {"classes": linear.classes_, "mean": scaler.mean_, "scale": scaler.scale_,
                                "coef": linear.coef_, "intercept": linear.intercept_})

    @classmethod
    def from_params(cls, class_names: tuple[str, ...], params: dict[str, np.ndarray]) -> CodeClassifier:
        """A classifier fitted before, from its :meth:`params`; ``ValueError`` if they do not fit together."""
        self = cls.__new__(cls)
        self._set(class_names, params)
        return self

    def _set(self, class_names: tuple[str, ...], params: dict[str, np.ndarray]) -> None:
        classes = np.asarray(params["classes"]).astype(np.int64)
        mean, scale = (np.asarray(params[k], dtype=np.float64) for k in ("mean", "scale"))
        coef, intercept = np.asarray(params["coef"], np.float64), np.asarray(params["intercept"], np.float64)
        d, k = len(mean), len(classes)
        rows = 1 if k == 2 else k  # scikit-learn keeps one row of scores for two classes
        if (k < 2 or scale.shape != (d,) or coef.shape != (rows, d) or intercept.shape != (rows,)
                or classes.min() < 0 or classes.max() >= len(class_names)
                or not all(np.isfinite(a).all() for a in (mean, scale, coef, intercept))):
            raise ValueError("classifier parameters of inconsistent shapes or values")
        self.class_names = tuple(class_names)
        self._classes, self._mean, self._scale, self._coef, self._intercept = classes, mean, scale, coef, intercept

    def params(self) -> dict[str, np.ndarray]:
        """What :meth:`from_params` takes: classes (K',), mean and scale (d,), coef (K' or 1, d), intercept."""
        return {"classes": self._classes, "mean": self._mean, "scale": self._scale, "coef": self._coef,
                "intercept": self._intercept}

    def proba(self, codes: np.ndarray | Tensor) -> np.ndarray:
        """(n, d) -> (n, len(class_names)); classes absent from the training labels get 0."""
        x = np.asarray(codes, dtype=np.float32).reshape(-1, len(self._mean)).astype(np.float64)
        scores = ((x - self._mean) / self._scale) @ self._coef.T + self._intercept  # (n, K') or (n, 1)
        if scores.shape[1] == 1:  # two classes: P(second) = logistic(score)
            second = 1.0 / (1.0 + np.exp(-np.clip(scores[:, 0], -700, 700)))
            fitted = np.column_stack([1.0 - second, second])
        else:
            e = np.exp(scores - scores.max(1, keepdims=True))
            fitted = e / e.sum(1, keepdims=True)
        p = np.zeros((len(x), len(self.class_names)))
        p[:, self._classes] = fitted
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
    map: LatentMap  # its projection was fitted on the n_train training codes (n_map of them when unlabelled)
    reference: str  # the name of the reference data, e.g. "MNIST"
    image_shape: tuple[int, int, int]  # (C, H, W)
    seconds: float  # wall time it took to compute (the first time, when read from the cache)
    units: Units  # each latent unit's activity, top test images, decoder image and observed values
    no_classes: str | None = None  # why there is no classifier, as a sentence; None when there is one
    separation: float | None = None  # the map's 5-NN test accuracy (knn_accuracy); None without classes
    n_map: int = 0  # training codes the map's projection was fitted on
    from_cache: bool = False  # read back from demo.cache rather than computed now


def analyse(model, ref: Reference, n_train: int = N_TRAIN, seed: int = 0) -> Insight:
    """Classifier, accuracy, test PSNR, map and its separation of ``model`` on ``ref`` (seconds; call once)."""
    t0 = time.perf_counter()
    shape = ref.image_shape
    idx = subset_indices(len(ref.train_labels), n_train, seed)  # the report's probe uses the same subset
    y_train, y_test = ref.train_labels[idx].numpy(), ref.test_labels.numpy()
    no_classes = why_no_classes(ref, y_train)
    h_train = encode(model, as_images(ref.train_images[idx], shape), BATCH)  # (n, d): classifier and map
    _finite_codes(h_train, f"{ref.name} training images")
    test = run(model, as_images(ref.test_images, shape), BATCH)  # codes (N, d), squared error per image (N,)
    h_test = test.codes
    _finite_codes(h_test, f"{ref.name} test images")
    if (bad := count_non_finite(test.sq_err)) > 0:
        raise NonFiniteError(f"the model gives non-finite reconstructions (NaN or inf) for {bad:,} of "
                             f"{len(test.sq_err):,} {ref.name} test images")
    clf, accuracy, separation = None, None, None
    labelled = no_classes is None
    if labelled:
        clf = CodeClassifier(h_train.numpy(), y_train, ref.class_names, seed)
        accuracy = float((clf.predict(h_test.numpy()) == y_test).mean())
    psnr = float(psnr_from_mse(test.sq_err.mean()))
    fit_on = h_train.numpy() if len(h_train) >= 2 else np.concatenate([h_train.numpy(), h_test.numpy()])
    projection = fit_projection(fit_on, y_train if labelled else None)
    if labelled and len(y_test):
        separation = knn_accuracy(projection.project(h_train.numpy()), y_train, projection.project(h_test.numpy()),
                                  y_test)
    names = ref.class_names if labelled else None
    latent_map = render(h_test.numpy(), y_test, names, projection, separation, seed=seed)
    units = unit_stats(model, h_test, code_kind(model))
    return Insight(clf, accuracy, psnr, len(idx) if clf is not None else 0, len(y_test), latent_map, ref.name, shape,
                   time.perf_counter() - t0, units, no_classes, separation, len(fit_on))


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

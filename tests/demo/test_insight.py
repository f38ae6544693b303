"""demo.insight: the classifier on codes, test PSNR, map and its separation, checked against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier
from torchmetrics.image import PeakSignalNoiseRatio

import regae
from demo.insight import CLASSIFIER, CodeClassifier, analyse
from demo.latent_map import fit_lda
from regae.analysis.probe import CLASSIFIERS
from tests.demo.paths import SLIM
from tests.support.demo import small_reference


def test_classifier_on_separable_codes():
    rng = np.random.default_rng(0)
    centres = np.eye(4)[:3] * 5  # three classes in 4-D, far apart
    labels = np.repeat([0, 1, 2], 50)
    codes = centres[labels] + rng.normal(size=(150, 4)) * 0.1
    clf = CodeClassifier(codes, labels, ("a", "b", "c", "never seen"))
    proba = clf.proba(codes)
    assert proba.shape == (150, 4)
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-9)
    assert (proba[:, 3] == 0).all()  # a class with no training codes is never predicted
    assert (clf.predict(codes) == labels).all()
    assert clf.predict(torch.tensor(centres[1], dtype=torch.float32)).tolist() == [1]  # one code (d,) works too
    with pytest.raises(ValueError, match="at least 2 classes"):
        CodeClassifier(codes[:50], labels[:50], ("a",))


def test_analysis_matches_torchmetrics_and_a_refit():
    model = regae.load(SLIM / "sparse.ckpt")
    ref = small_reference(n_train=2000, n_test=1000)._replace(class_names=tuple("abcdefghij"))
    insight = analyse(model, ref)
    assert (insight.n_train, insight.n_test, insight.image_shape) == (2000, 1000, (1, 28, 28))
    assert insight.classifier.class_names == tuple("abcdefghij")  # names come from the reference data
    x = ref.test_images.unsqueeze(1).float() / 255
    with torch.no_grad():
        h = model.encode(x)
        x_hat = model.decode(h)
    # test PSNR as `regae test` computes it: torchmetrics over the whole set
    psnr = PeakSignalNoiseRatio(data_range=1.0)(x_hat, x).item()
    assert insight.test_psnr == pytest.approx(psnr, abs=1e-3)
    assert 15 < insight.test_psnr < 30  # a trained model (measured 19.8 dB on all 10,000)
    accuracy = (insight.classifier.predict(h.numpy()) == ref.test_labels.numpy()).mean()
    assert insight.accuracy == pytest.approx(accuracy, abs=2e-3)  # same codes up to batch-size float noise
    assert insight.accuracy > 0.8  # far above chance (0.1): the codes keep the digit's identity
    # the map: Fisher's linear discriminant of the 2,000 training codes, refitted here on codes of a plain
    # forward pass, places the test codes where the demo's does
    with torch.no_grad():
        h_train = model.encode(ref.train_images.unsqueeze(1).float() / 255).numpy()
    projection = insight.map.projection
    assert (projection.kind, insight.n_map) == ("LD", 2000)
    refit = fit_lda(h_train, ref.train_labels.numpy())
    np.testing.assert_allclose(projection.project(h.numpy()), refit.project(h.numpy()), atol=1e-3)
    # how well the classes separate on it: a 5-NN on the training codes' 2-D points, recomputed
    knn = KNeighborsClassifier(n_neighbors=5).fit(refit.project(h_train), ref.train_labels.numpy())
    separation = (knn.predict(refit.project(h.numpy())) == ref.test_labels.numpy()).mean()
    assert insight.separation == pytest.approx(separation, abs=5e-3)  # a tie may fall either way
    assert 0.3 < insight.separation < insight.accuracy  # far above chance (0.1), below the 32-D classifier


@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_classifier_probabilities_are_scikit_learns(n_classes):
    """The classifier keeps only its parameters; its probabilities are still exactly scikit-learn's."""
    rng = np.random.default_rng(n_classes)
    labels = rng.integers(n_classes, size=400)
    codes = rng.normal(size=(400, 6)) + labels[:, None] * 0.7
    names = tuple(str(k) for k in range(n_classes))
    clf = CodeClassifier(codes, labels, names)
    theirs = CLASSIFIERS[CLASSIFIER](0).fit(codes, labels)
    new = rng.normal(size=(50, 6)) * 2
    new = new.astype(np.float32)  # codes come as float32; scikit-learn computes them in float32, ours in float64
    np.testing.assert_allclose(clf.proba(new), theirs.predict_proba(new.astype(np.float64)), atol=1e-9)
    np.testing.assert_allclose(clf.proba(new), theirs.predict_proba(new), atol=1e-6)
    again = CodeClassifier.from_params(names, clf.params())  # as read back from the cache
    assert np.array_equal(again.proba(new), clf.proba(new))
    bad = {**clf.params(), "coef": clf.params()["coef"][:, :3]}
    with pytest.raises(ValueError, match="inconsistent"):
        CodeClassifier.from_params(names, bad)

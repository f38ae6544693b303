"""demo.insight: the classifier on codes, test PSNR and map, checked against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.image import PeakSignalNoiseRatio

import regae
from demo.insight import CodeClassifier, analyse
from tests.support.demo import SHIPPED, small_reference


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
    model = regae.load(SHIPPED / "sparse.ckpt")
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
    # the map is the PCA of these test codes: the mean code sits at the origin
    np.testing.assert_allclose(insight.map.pca.project(h.mean(0).numpy()), 0, atol=1e-5)

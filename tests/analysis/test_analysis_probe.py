import numpy as np
import pytest

from regae import load, load_split
from regae.analysis.embed import encode
from regae.analysis.probe import _verdict, pca_features, probe
from regae.analysis.tsne import subset_indices


@pytest.fixture(scope="module")
def small_split():
    train, test = load_split("train"), load_split("test")
    tr = subset_indices(60_000, 2000, seed=0)
    return (train.images[tr], train.labels[tr].numpy()), (test.images[:1000], test.labels[:1000].numpy())


def _pixels(images):
    return images.flatten(1).float().div(255).numpy()


def test_pixel_and_pca_baselines_far_above_chance(small_split):
    (tr_img, tr_y), (te_img, te_y) = small_split
    pix = probe(_pixels(tr_img), tr_y, _pixels(te_img), te_y)
    pca = probe(*pca_features(_pixels(tr_img), _pixels(te_img), 16)[:1], tr_y,
                pca_features(_pixels(tr_img), _pixels(te_img), 16)[1], te_y)
    # Known MNIST figures: 2,000 training images give ~85-90 % with either classifier (chance ~10 %)
    for acc in (pix, pca):
        assert set(acc) == {"logistic regression", "5-NN"}
        assert min(acc.values()) > 0.8


def test_pca_matches_sklearn_projection_dimension(small_split):
    (tr_img, _), (te_img, _) = small_split
    a, b = pca_features(_pixels(tr_img), _pixels(te_img), 7)
    assert a.shape == (2000, 7) and b.shape == (1000, 7)
    assert np.allclose(a.mean(0), 0, atol=1e-4)  # centred on the training mean


def test_lightly_trained_ae_embeddings_far_above_chance(ckpts, small_split):
    (tr_img, tr_y), (te_img, te_y) = small_split
    for path in ckpts.values():
        model = load(path)
        acc = probe(encode(model, tr_img).numpy(), tr_y, encode(model, te_img).numpy(), te_y)
        assert max(acc.values()) > 0.5, acc


def test_verdict_names_the_better_ae_and_the_gap():
    results = {"a": {"logistic regression": 0.90, "5-NN": 0.80}, "b": {"logistic regression": 0.95, "5-NN": 0.80}}
    text, cmp = _verdict(results, ["a", "b"])
    assert cmp["logistic regression"] == {"best": "b", "runner_up": "a", "gap_points": pytest.approx(5.0)}
    assert "**b** is better than a by 5.00 percentage points" in text
    assert "5-NN: a and b tie at 80.00 %" in text
    assert _verdict(results, ["a"])[1] == {}

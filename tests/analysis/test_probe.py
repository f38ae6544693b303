import numpy as np
import pytest

from regae import load, load_split
from regae.analysis.probe import CLASSIFIERS, comparisons, pca_features, probe
from regae.analysis.tsne import subset_indices
from regae.model.inference import encode
from regae.reports.stats import accuracy_summary, compare_correct


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


def test_comparisons_test_every_ae_against_each_other_and_the_baselines():
    rng = np.random.default_rng(0)
    base = rng.random(2000) < 0.9
    worse = base.copy()
    worse[np.flatnonzero(base)[:150]] = False  # 150 items only "a" gets right
    clf = list(CLASSIFIERS)
    correct = {"a": {c: [base] for c in clf}, "b": {c: [worse] for c in clf},
               "raw pixels": {c: [base] for c in clf}, "PCA-8 of pixels": {c: [worse] for c in clf}}
    cmp = comparisons(correct, ["a", "b"], {"a": 8, "b": 8})
    got = {(c["a"], c["b"], c["classifier"]): c for c in cmp}
    assert len(cmp) == 5 * len(clf)  # a-b, a and b vs pixels, a and b vs PCA, per classifier
    ab = got[("a", "b", "5-NN")]
    assert ab["diff_points"] == pytest.approx(7.5) and ab["test"] == "exact McNemar"
    assert ab["p"] < 1e-6 and ab["sentence"].startswith("a is better than b: a − b = +7.50 points")
    same = got[("a", "raw pixels", "5-NN")]
    assert same["p"] == 1.0 and same["sentence"].startswith("no significant difference between a and raw pixels")
    assert got[("b", "PCA-8 of pixels", "logistic regression")]["p"] == 1.0
    # two seeds: the paired bootstrap over items of the seed-averaged accuracy takes over
    two = compare_correct([base, base], [worse, worse], n_boot=2000)
    assert two["test"].startswith("paired bootstrap") and two["diff_points"] == pytest.approx(7.5)
    assert two["p_mcnemar_per_seed"] == [ab["p"], ab["p"]]


def test_accuracy_summary_over_seeds():
    a, b = np.r_[np.ones(90), np.zeros(10)].astype(bool), np.r_[np.ones(80), np.zeros(20)].astype(bool)
    one = accuracy_summary([a])
    assert one["accuracy"] == 0.9 and one["std_over_seeds"] is None and one["ci_low"] < 0.9 < one["ci_high"]
    two = accuracy_summary([a, b], n_boot=2000)
    assert two["accuracy"] == pytest.approx(0.85) and two["std_over_seeds"] == pytest.approx(np.std([0.9, 0.8], ddof=1))
    assert two["per_seed"] == [0.9, 0.8]

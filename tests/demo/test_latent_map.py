"""demo.latent_map: the map's projection (LDA, PCA), its separation figure, and that drawn points land where
matplotlib put the data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from demo.latent_map import (
    LATENT_ROUTE,
    PIXEL_ROUTE,
    LatentMap,
    fit_lda,
    fit_pca,
    fit_projection,
    knn_accuracy,
    render,
)


def rgb(img) -> np.ndarray:
    return np.asarray(img.convert("RGB")).astype(int)


def test_pca_finds_the_axes_of_a_known_cloud():
    rng = np.random.default_rng(0)
    e1, e2 = np.eye(5)[1], np.eye(5)[3]
    codes = 2.0 + rng.normal(size=(4000, 1)) * 3 * e1 + rng.normal(size=(4000, 1)) * e2 \
        + rng.normal(size=(4000, 5)) * 0.01  # std 3 along e1, 1 along e2, almost nothing else
    pca = fit_pca(codes)
    assert (pca.kind, pca.axes) == ("PC", ("PC 1", "PC 2"))
    np.testing.assert_allclose(np.abs(pca.basis[:, 0]), e1, atol=0.02)
    np.testing.assert_allclose(np.abs(pca.basis[:, 1]), e2, atol=0.02)
    np.testing.assert_allclose(pca.basis.T @ pca.basis, np.eye(2), atol=1e-12)
    assert pca.explained == pytest.approx([0.9, 0.1], abs=0.01)  # 9 : 1 variance
    np.testing.assert_allclose(pca.project(codes.mean(0)), 0, atol=1e-9)
    a, b = codes[0], codes[1]  # linear: the middle of a segment projects to the middle
    np.testing.assert_allclose(pca.project((a + b) / 2), (pca.project(a) + pca.project(b)) / 2, atol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        fit_pca(np.zeros((1, 5)))


def hidden_classes(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three classes apart only along two quiet axes (e3, e4), under a loud spread along e0 and e1 that
    carries no class: PCA's plane is the loud one, where the classes lie on top of each other."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], n // 3)
    centres = np.array([[0, 0], [1, 0], [0, 1]], dtype=float)  # in (e3, e4)
    codes = rng.normal(size=(n, 6)) * 0.1
    codes[:, :2] += rng.normal(size=(n, 2)) * 10.0
    codes[:, 3:5] += centres[labels]
    return codes, labels


def test_lda_finds_the_plane_where_classes_separate_and_pca_does_not():
    codes, labels = hidden_classes(seed=0)
    test_codes, test_labels = hidden_classes(seed=1)
    lda, pca = fit_lda(codes, labels), fit_pca(codes)
    assert (lda.kind, lda.axes, lda.method) == ("LD", ("LD 1", "LD 2"), "Fisher's linear discriminant")
    # LDA's plane is the one of e3 and e4: the loud axes e0, e1 get (almost) no weight
    weights = np.linalg.norm(lda.basis, axis=1)
    assert weights[[3, 4]].min() > 20 * weights[[0, 1]].max()
    assert lda.explained.sum() == pytest.approx(1.0) and lda.explained[0] >= lda.explained[1]
    apart = knn_accuracy(lda.project(codes), labels, lda.project(test_codes), test_labels)
    mixed = knn_accuracy(pca.project(codes), labels, pca.project(test_codes), test_labels)
    assert apart > 0.99 and mixed < 0.5  # measured 1.0 and ~0.33 (chance: 1/3)


def test_lda_projection_is_scikit_learns_transform_up_to_each_axis_sign():
    codes, labels = hidden_classes()
    lda = fit_lda(codes, labels)
    theirs = LinearDiscriminantAnalysis(n_components=2).fit(codes, labels).transform(codes)
    ours = lda.project(codes)
    signs = np.sign((ours * theirs).sum(0))
    np.testing.assert_allclose(ours, theirs * signs, atol=1e-9)
    # any new code, as for a drawing: the same affine map
    new = np.random.default_rng(5).normal(size=(3, 6))
    np.testing.assert_allclose(lda.project(new), (new - lda.mean) @ lda.basis, atol=1e-12)


def test_two_classes_get_ld1_and_the_leading_direction_of_the_rest():
    codes, labels = hidden_classes()
    keep = labels < 2
    proj = fit_projection(codes[keep], labels[keep])
    assert proj.kind == "LD" and proj.axes == ("LD 1", "PC 1 of the rest")
    ld1 = proj.basis[:, 0] / np.linalg.norm(proj.basis[:, 0])
    assert abs(ld1[3]) > 0.99  # classes 0 and 1 differ along e3
    assert abs(ld1 @ proj.basis[:, 1]) < 1e-9  # the second axis is orthogonal to the first
    assert np.linalg.norm(proj.basis[:2, 1]) > 0.99  # and lies in the loud plane of e0, e1
    assert proj.axis_labels()[1].endswith("% of the variance left)")


def test_unlabelled_codes_or_one_class_get_pca():
    codes, labels = hidden_classes()
    assert fit_projection(codes).kind == "PC"
    assert fit_projection(codes, np.zeros(len(codes), dtype=int)).kind == "PC"


def test_separation_is_one_for_apart_classes_and_chance_for_classes_on_top_of_each_other():
    rng = np.random.default_rng(0)
    n = 2000
    labels = np.repeat([0, 1], n // 2)
    # two tight blobs 10 standard deviations apart: every test point among its own class
    apart = np.array([[0.0, 0.0], [10.0, 0.0]])[labels] + rng.normal(size=(n, 2))
    apart_test = np.array([[0.0, 0.0], [10.0, 0.0]])[labels] + rng.normal(size=(n, 2))
    assert knn_accuracy(apart, labels, apart_test, labels) == 1.0
    # the same distribution for both classes: the neighbours' labels are coin flips
    same, same_test = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
    assert knn_accuracy(same, labels, same_test, labels) == pytest.approx(0.5, abs=0.04)
    # a hand-made case: 5-NN of (0.1, 0) among four 0s near the origin and three 1s far off is 0
    train = np.array([[0, 0], [0, 0.1], [0.1, 0.1], [0.2, 0], [5, 5], [5, 5.1], [5.1, 5]])
    train_labels = np.array([0, 0, 0, 0, 1, 1, 1])
    assert knn_accuracy(train, train_labels, np.array([[0.1, 0.0], [5, 5]]), np.array([0, 1])) == 1.0
    assert knn_accuracy(train, train_labels, np.array([[0.1, 0.0], [5, 5]]), np.array([1, 1])) == 0.5
    with pytest.raises(ValueError):
        knn_accuracy(train, train_labels, np.zeros((0, 2)), np.zeros(0))


@pytest.fixture(scope="module")
def toy_map():
    """Three tight clusters in 3-D; class 0 sits alone at the far left of the plane (LDA of the clusters)."""
    centres = np.array([[-4.0, 0, 0], [2, 2, 0], [2, -2, 0]])
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1, 2], 300)
    codes = centres[labels] + rng.normal(size=(900, 3)) * 0.05
    projection = fit_projection(codes, labels)
    return render(codes, labels, ("zero", "one", "two"), projection, 1.0, shown=900), codes, labels


def test_background_shows_each_class_where_its_codes_are(toy_map):
    latent_map, codes, labels = toy_map
    assert latent_map.projection.kind == "LD"
    img = rgb(latent_map.background)
    tab10 = {0: (31, 119, 180), 1: (255, 127, 14), 2: (44, 160, 44)}
    for k, colour in tab10.items():
        x, y = np.round(latent_map.to_pixels(latent_map.projection.project(codes[labels == k].mean(0)))).astype(int)
        pixel = img[y, x]
        assert np.abs(pixel - colour).max() < 60, (k, pixel)  # that class's colour (dots are half transparent)
    centre = latent_map.projection.project(codes.mean(0))  # between the clusters
    x, y = np.round(latent_map.to_pixels(centre)).astype(int)
    assert img[y, x].min() > 230  # white


def test_routes_and_marks_are_drawn_at_their_points(toy_map):
    latent_map, codes, _ = toy_map
    p = latent_map.projection.project(codes[[0, 300, 600]])  # (3, 2)
    route = np.stack([p[0], (p[0] + p[1]) / 2, p[1]])
    line = np.stack([p[0], p[1]])
    img = rgb(latent_map.draw({"A": p[2]}, pixel_route=route, latent_route=line))
    x, y = np.round(latent_map.to_pixels(route[1])).astype(int)
    assert tuple(img[y, x]) == PIXEL_ROUTE  # exact: the route colours are kept in the palette
    x, y = np.round(latent_map.to_pixels(p[2])).astype(int)
    assert tuple(img[y + 6, x - 6]) == LATENT_ROUTE  # inside the box of mark "A" (its letter is white)
    before = rgb(latent_map.background)
    assert (np.abs(img - before).sum(2) > 0).sum() > 200  # something was drawn; the background is untouched
    assert latent_map.draw() is not latent_map.background and np.array_equal(rgb(latent_map.draw()), before)


def test_points_off_the_map_are_drawn_at_its_border(toy_map):
    latent_map, _, _ = toy_map
    far = latent_map.projection.project(np.zeros(3)) + np.array([1e6, 0.0])
    img = rgb(latent_map.draw(pixel_route=far[None]))
    left, top, right, bottom = latent_map.box
    _, y = np.round(latent_map.to_pixels(far)).astype(int)
    assert tuple(img[int(np.clip(y, top, bottom)), int(round(right))]) == PIXEL_ROUTE


def test_the_map_image_reads_back_pixel_for_pixel(toy_map):
    latent_map, codes, _ = toy_map
    again = LatentMap.from_png(latent_map.projection, latent_map.png(), latent_map.origin, latent_map.axes,
                               latent_map.box)
    assert np.array_equal(np.asarray(again.background), np.asarray(latent_map.background))
    assert again.background.getpalette() == latent_map.background.getpalette()
    p = latent_map.projection.project(codes[[0, 300]])
    assert np.array_equal(rgb(again.draw({"A": p[0]}, p, p)), rgb(latent_map.draw({"A": p[0]}, p, p)))
    with pytest.raises(ValueError, match="not a map image"):
        LatentMap.from_png(latent_map.projection, _png(latent_map.background.convert("RGB")), latent_map.origin,
                           latent_map.axes, latent_map.box)


def _png(img) -> bytes:
    import io

    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()

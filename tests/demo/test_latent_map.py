"""demo.latent_map: the PCA plane, and that drawn points land where matplotlib put the data."""

from __future__ import annotations

import numpy as np
import pytest

from demo.latent_map import LATENT_ROUTE, PCA2, PIXEL_ROUTE, render


def rgb(img) -> np.ndarray:
    return np.asarray(img.convert("RGB")).astype(int)


def test_pca_finds_the_axes_of_a_known_cloud():
    rng = np.random.default_rng(0)
    e1, e2 = np.eye(5)[1], np.eye(5)[3]
    codes = 2.0 + rng.normal(size=(4000, 1)) * 3 * e1 + rng.normal(size=(4000, 1)) * e2 \
        + rng.normal(size=(4000, 5)) * 0.01  # std 3 along e1, 1 along e2, almost nothing else
    pca = PCA2.fit(codes)
    np.testing.assert_allclose(np.abs(pca.basis[:, 0]), e1, atol=0.02)
    np.testing.assert_allclose(np.abs(pca.basis[:, 1]), e2, atol=0.02)
    np.testing.assert_allclose(pca.basis.T @ pca.basis, np.eye(2), atol=1e-12)
    assert pca.explained == pytest.approx([0.9, 0.1], abs=0.01)  # 9 : 1 variance
    np.testing.assert_allclose(pca.project(codes.mean(0)), 0, atol=1e-9)
    a, b = codes[0], codes[1]  # linear: the middle of a segment projects to the middle
    np.testing.assert_allclose(pca.project((a + b) / 2), (pca.project(a) + pca.project(b)) / 2, atol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        PCA2.fit(np.zeros((1, 5)))


@pytest.fixture(scope="module")
def toy_map():
    """Three tight clusters in 3-D; class 0 sits alone at the far left of the plane."""
    centres = np.array([[-4.0, 0, 0], [2, 2, 0], [2, -2, 0]])
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1, 2], 300)
    codes = centres[labels] + rng.normal(size=(900, 3)) * 0.05
    return render(codes, labels, ("zero", "one", "two"), shown=900), codes, labels


def test_background_shows_each_class_where_its_codes_are(toy_map):
    latent_map, codes, labels = toy_map
    img = rgb(latent_map.background)
    tab10 = {0: (31, 119, 180), 1: (255, 127, 14), 2: (44, 160, 44)}
    for k, colour in tab10.items():
        x, y = np.round(latent_map.to_pixels(latent_map.pca.project(codes[labels == k].mean(0)))).astype(int)
        pixel = img[y, x]
        assert np.abs(pixel - colour).max() < 60, (k, pixel)  # that class's colour (dots are half transparent)
    x, y = np.round(latent_map.to_pixels(np.array([0.0, 0.0]))).astype(int)  # between the clusters
    assert img[y, x].min() > 230  # white


def test_routes_and_marks_are_drawn_at_their_points(toy_map):
    latent_map, codes, _ = toy_map
    p = latent_map.pca.project(codes[[0, 300, 600]])  # (3, 2)
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
    img = rgb(latent_map.draw(pixel_route=np.array([[1e6, 0.0]])))
    left, top, right, bottom = latent_map.box
    _, y = np.round(latent_map.to_pixels(np.array([0.0, 0.0]))).astype(int)
    assert tuple(img[y, int(round(right))]) == PIXEL_ROUTE

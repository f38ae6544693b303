"""demo.cache: start-up's analyses kept on disk, keyed by the checkpoint's bytes and the data; read back the same.

On the slim test checkpoints and a slice of MNIST (seconds). A cache that fails in any way is only
bypassed: the checkpoint stays usable and its figures are computed again.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from demo.cache import ENV, AnalysisCache, default_cache_dir
from demo.predictor import Predictor
from regae.data import load_split
from tests.demo.paths import SLIM
from tests.support.demo import small_reference


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    test = load_split("test")
    return test.images[0].numpy() / 255.0, test.images[1].numpy() / 255.0  # a 7 and a 2


def folder_of(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "checkpoints"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(SLIM / f"{name}.ckpt", folder / f"{name}.ckpt")
    return folder


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.npz"))


def test_the_second_start_reads_what_the_first_computed(tmp_path, pair):
    folder, cache = folder_of(tmp_path, "sparse", "contractive"), tmp_path / "cache"
    first = Predictor(folder, reference=small_reference, cache=cache)
    assert first.status() == {"sparse": None, "contractive": None}
    assert [first.loaded(n).insight.from_cache for n in ("sparse", "contractive")] == [False, False]
    assert len(entries(cache)) == 2
    second = Predictor(folder, reference=small_reference, cache=cache)
    assert second.status() == {"sparse": None, "contractive": None}
    for name in ("sparse", "contractive"):
        a, b = first.loaded(name).insight, second.loaded(name).insight
        assert b.from_cache and not a.from_cache
        for field in ("accuracy", "test_psnr", "n_train", "n_test", "reference", "image_shape", "no_classes",
                      "separation", "n_map", "seconds"):
            assert getattr(a, field) == getattr(b, field), field
        assert np.array_equal(np.asarray(a.map.background), np.asarray(b.map.background))
        assert a.units.kind == b.units.kind == "sigmoid"
        for field, value in a.units._asdict().items():  # the unit view's numbers and images, bit for bit
            if field != "kind":
                assert value.dtype == getattr(b.units, field).dtype and np.array_equal(value, getattr(b.units, field))
        np.testing.assert_array_equal(a.map.projection.basis, b.map.projection.basis)
        assert a.map.projection.axes == b.map.projection.axes == ("LD 1", "LD 2")
        # the same answers for a drawing: classes, probabilities and map points, bit for bit
        ra, rb = first.run(name, *pair, steps=5), second.run(name, *pair, steps=5)
        assert np.array_equal(ra.proba, rb.proba) and np.array_equal(ra.latent_classes, rb.latent_classes)
        assert np.array_equal(ra.pixel_points, rb.pixel_points)
        assert np.array_equal(np.asarray(a.map.draw({"A": ra.latent_points[0]}, ra.pixel_points, ra.latent_points)),
                              np.asarray(b.map.draw({"A": rb.latent_points[0]}, rb.pixel_points, rb.latent_points)))


def test_the_key_is_the_checkpoints_bytes_and_the_data(tmp_path):
    cache = tmp_path / "cache"
    Predictor(folder_of(tmp_path, "sparse"), reference=small_reference, cache=cache).status()
    assert len(entries(cache)) == 1
    # the same bytes under another name, in another folder: read back
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(SLIM / "sparse.ckpt", other / "renamed.ckpt")
    renamed = Predictor(other, reference=small_reference, cache=cache)
    assert renamed.status() == {"renamed": None} and renamed.loaded("renamed").insight.from_cache
    # other data (a larger slice of MNIST): computed, a second entry
    more = Predictor(other, reference=lambda model: small_reference(n_train=2500), cache=cache)
    assert more.status() == {"renamed": None} and not more.loaded("renamed").insight.from_cache
    assert more.loaded("renamed").insight.n_train == 2500 and len(entries(cache)) == 2
    # other bytes (the contractive model) under the old name: computed, a third entry
    shutil.copy(SLIM / "contractive.ckpt", other / "renamed.ckpt")
    replaced = Predictor(other, reference=small_reference, cache=cache)
    assert replaced.status() == {"renamed": None} and not replaced.loaded("renamed").insight.from_cache
    assert len(entries(cache)) == 3


@pytest.mark.parametrize("spoil", ["truncated", "garbage", "other key", "empty"])
def test_a_bad_entry_is_computed_again_and_rewritten(tmp_path, spoil):
    folder, cache = folder_of(tmp_path, "sparse", "contractive"), tmp_path / "cache"
    Predictor(folder, reference=small_reference, cache=cache).status()
    good = {p.name: p.read_bytes() for p in entries(cache)}
    target, other = entries(cache)
    if spoil == "truncated":
        target.write_bytes(good[target.name][: len(good[target.name]) // 2])
    elif spoil == "garbage":
        target.write_bytes(b"\x00not an npz" * 100)
    elif spoil == "other key":  # a valid entry of the other checkpoint, under this one's name
        target.write_bytes(good[other.name])
    else:
        target.write_bytes(b"")
    again = Predictor(folder, reference=small_reference, cache=cache)
    assert again.status() == {"sparse": None, "contractive": None}
    assert sorted(again.loaded(n).insight.from_cache for n in ("sparse", "contractive")) == [False, True]
    assert {p.name: p.read_bytes() for p in entries(cache)}.keys() == good.keys()
    assert Predictor(folder, reference=small_reference, cache=cache).loaded("sparse").insight.from_cache


def test_a_cache_that_cannot_be_written_is_bypassed(tmp_path, caplog):
    folder = folder_of(tmp_path, "sparse", "contractive")
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    predictor = Predictor(folder, reference=small_reference, cache=blocked / "cache")
    with caplog.at_level("WARNING", logger="demo"):
        assert predictor.status() == {"sparse": None, "contractive": None}
    said = [r.getMessage() for r in caplog.records if "demo cache: cannot write" in r.getMessage()]
    assert len(said) == 1  # one warning for the cache, not one per checkpoint
    assert not predictor.loaded("sparse").insight.from_cache


def test_no_cache_computes_every_time(tmp_path):
    folder = folder_of(tmp_path, "sparse")
    assert Predictor(folder, reference=small_reference).cache is None
    assert not Predictor(folder, reference=small_reference).loaded("sparse").insight.from_cache


def test_the_default_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "regae-demo"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "regae-demo"
    assert AnalysisCache(tmp_path / "c").load("0" * 64, 32) is None  # nothing there yet: a miss, no error

"""The report on data other than MNIST: colour images with their class names, and unlabelled data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from regae.analysis.options import ReportConfig
from regae.analysis.report import build_report
from regae.data import load_dataset
from regae.errors import ConfigError
from tests.support.helpers import fit_tiny
from tests.support.owndata import RGB_CLASSES, make_rgb_folder

CFG = ReportConfig(n_tsne=60, n_pairs=4, n_probe_train=60, n_reg=16)


@pytest.fixture(scope="module")
def rgb_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rgb")
    root = make_rgb_folder(tmp / "blobs", per_class=30)
    data = ["--data.dataset", f"folder:{root}", "--data.val_size", "10"]
    return {name: fit_tiny(tmp / name, *data, config=name, steps=3) for name in ("sparse", "contractive")}, root


def test_rgb_folder_report_has_classes_colour_and_statistics(rgb_runs, tmp_path):
    ckpts, root = rgb_runs
    build_report(ckpts, tmp_path, CFG)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["report"]["dataset"]["dataset"] == f"folder:{root}"
    assert metrics["report"]["dataset"]["shape"] == [3, 32, 32]
    acc = metrics["classification"]["accuracy"]
    assert set(acc) == {"sparse", "contractive", "raw pixels", "PCA-32 of pixels"}
    assert metrics["classification"]["dims"]["raw pixels"] == 3 * 32 * 32
    assert acc["sparse"]["5-NN"]["n_test"] == len(load_dataset(f"folder:{root}").test.labels)  # the folder's own test split
    assert metrics["tsne"]["classes"] == list(RGB_CLASSES)
    md = (tmp_path / "index.md").read_text()
    assert "chance is about 33 %" in md and "coloured by the true class" in md
    names = {p["label_1"] for p in metrics["interpolation"]["pairs"]} | {p["label_2"] for p in metrics["interpolation"]["pairs"]}
    assert names <= {0, 1, 2}
    from PIL import Image

    strip = np.asarray(Image.open(tmp_path / "interpolation_sparse_1.png").convert("RGB")).astype(int)
    assert (np.abs(strip[..., 0] - strip[..., 2]) > 40).mean() > 0.001  # colour, not grey
    recon = np.asarray(Image.open(tmp_path / "reconstructions.png").convert("RGB")).astype(int)
    assert (np.abs(recon[..., 0] - recon[..., 1]) > 40).mean() > 0.001


def test_unlabelled_npy_report_skips_classification(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.integers(0, 256, (80, 16, 16), dtype=np.uint8))
    data = ["--data.dataset", f"npy:{tmp_path / 'x.npy'}", "--data.val_size", "8"]
    ckpts = {n: fit_tiny(tmp_path / n, *data, "--model.widths", "[4, 8]", config=n, steps=2)
             for n in ("sparse", "contractive")}
    out = tmp_path / "report"
    build_report(ckpts, out, ReportConfig(n_tsne=50, n_pairs=3, n_probe_train=50, n_reg=8))
    md = (out / "index.md").read_text()
    assert "has no labels, so there is nothing to classify" in md and "in one colour" in md
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["classification"] == {"skipped": "unlabelled dataset"}
    assert all(p["label_1"] == -1 and p["index_1"] != p["index_2"] for p in metrics["interpolation"]["pairs"])


def test_checkpoints_of_different_datasets_are_refused(rgb_runs, tmp_path):
    ckpts, _ = rgb_runs
    mnist = fit_tiny(tmp_path / "mnist", steps=1)
    with pytest.raises(ConfigError, match="trained on different data"):
        build_report({"rgb": ckpts["sparse"], "mnist": mnist}, tmp_path / "r", CFG)

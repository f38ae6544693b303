"""Fashion-MNIST end to end: `regae compare --data.dataset fashion-mnist` trains both AEs on it and
reports with its class names (on a generated copy in Debian's layout, and on the real Debian data)."""

from __future__ import annotations

import json

import pytest

from regae.cli import main
from regae.data.ood import FASHION_CLASSES


def compare_on_fashion(tmp_path) -> dict:
    out = tmp_path / "report"
    argv = ["compare", "--data.dataset", "fashion-mnist", "--out", str(out), "--runs-dir", str(tmp_path / "runs"),
            "--max-steps", "3", "--tsne-images", "100", "--pairs", "4", "--probe-train", "300", "--reg-images", "16",
            "--", "--model.widths", "[4,8,8]", "--data.limit_train", "256", "--data.limit_test", "200",
            "--data.batch_size", "32", "--trainer.limit_val_batches", "1", "--trainer.logger", "false"]
    assert main(argv) == 0
    return json.loads((out / "metrics.json").read_text())


def check(metrics: dict) -> None:
    assert metrics["report"]["dataset"]["dataset"] == "fashion-mnist"
    assert metrics["tsne"]["classes"] == list(FASHION_CLASSES)
    assert set(metrics["classification"]["accuracy"]) == {"sparse", "contractive", "raw pixels", "PCA-32 of pixels"}
    assert all(m[0]["global_step"] == 3 for m in metrics["models"].values())


def test_compare_on_generated_fashion_mnist(tmp_path, fake_fashion):
    check(compare_on_fashion(tmp_path))


@pytest.mark.data
def test_compare_on_debian_fashion_mnist(tmp_path):
    metrics = compare_on_fashion(tmp_path)
    check(metrics)
    # the real images carry structure: raw-pixel classifiers are far above the 10 % of chance
    assert metrics["classification"]["accuracy"]["raw pixels"]["5-NN"]["accuracy"] > 0.5

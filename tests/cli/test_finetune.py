"""``regae finetune``: a pre-trained encoder + softmax layer trained with labels, its test accuracy with its interval."""

import json
import os
import shutil
import signal

import numpy as np
import pytest
import torch

import regae
from regae.analysis.options import DEFAULT_LR, LR_SCHEDULES, FinetuneConfig
from regae.checkpoints.read import read_checkpoint
from regae.errors import CheckpointError, ConfigError
from regae.model.classifier import EncoderClassifier
from regae.model.inference import classify
from regae.reports.stats import wilson_interval
from regae.threads.count import threads
from tests.support.helpers import fit_tiny, run_cli

#: a few steps, no bar (one line per epoch), one thread: seconds on a busy 2-core machine
QUICK = ["--batch-size", "16", "--threads", "1", "--device", "cpu"]


def separable_npz(path, n_train=96, n_test=48, size=16, classes=3):
    """Classes no classifier can miss: a bright 5x5 block top-left (0), top-right (1) or bottom-left (2) on dim noise."""
    rng = np.random.default_rng(0)
    corners = [(slice(0, 5), slice(0, 5)), (slice(0, 5), slice(-5, None)), (slice(-5, None), slice(0, 5))]

    def draw(n):
        images = rng.integers(0, 40, size=(n, size, size), dtype=np.uint8)
        labels = np.arange(n) % classes
        for k in range(classes):
            rows, cols = corners[k]
            images[labels == k, rows, cols] = 255
        return images, labels

    (images, labels), (test_images, test_labels) = draw(n_train), draw(n_test)
    np.savez(path, images=images, labels=labels, test_images=test_images, test_labels=test_labels)
    return path


@pytest.fixture(scope="module")
def mnist_ae(tmp_path_factory):
    """A tiny U-Net AE trained 4 steps on MNIST."""
    with threads(1):
        return fit_tiny(tmp_path_factory.mktemp("mnist-ae"))


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """(the separable set, the one-hidden-layer AE 256-32-256 trained 4 steps on it): its sigmoid codes
    still tell the corners apart, so a softmax layer on them alone can learn the classes."""
    root = tmp_path_factory.mktemp("toy")
    data = separable_npz(root / "toy.npz")
    with threads(1):
        ae = fit_tiny(root / "ae", "--model.widths", "[]", "--data.dataset", f"npz:{data}", config="shallow")
    return data, ae


def encoder_of(path):
    """The encoder weights of a fine-tuned classifier's checkpoint (weights and buffers by name)."""
    return EncoderClassifier.from_checkpoint(read_checkpoint(path)).encoder.state_dict()


def finetune(*args):
    code, out, err = run_cli("finetune", *args)
    assert code == 0, err[-3000:]
    return out


def one_line_error(*args):
    """(the one stderr line, stdout) of a refused ``regae finetune``; exit status 2, no traceback."""
    code, out, err = run_cli("finetune", *args)
    assert code == 2 and "Traceback" not in err, err[-3000:]
    assert err.startswith("regae: error: ") and err.count("\n") == 1, err
    return err.strip(), out


def test_a_separable_toy_set_is_classified_without_a_mistake(tmp_path, toy):
    data, ae = toy
    out = finetune("--ckpt", str(ae), "--out", str(tmp_path / "ft"), "--epochs", "8", "--lr", "0.01", *QUICK)
    metrics = json.loads((tmp_path / "ft" / "metrics.json").read_text())
    acc, err = metrics["test_accuracy"], metrics["test_error"]
    assert acc["accuracy"] == 1.0 and acc["n_test"] == 48 and metrics["dataset"]["dataset"] == f"npz:{data}"
    assert (acc["ci_low"], acc["ci_high"]) == pytest.approx(wilson_interval(48, 48))  # [92.6 %, 100 %]
    assert err["error"] == 0.0 and (err["ci_low"], err["ci_high"]) == pytest.approx(wilson_interval(0, 48))
    assert "test accuracy 100.00 % [92.59, 100.00], error 0.00 % [0.00, 7.41] on 48 test images" in out
    assert out.count("\nepoch ") == 8 and out.count("val/acc") == 8  # one line per epoch, with the val accuracy
    assert metrics["steps"] == 8 * 6 and metrics["train_images"] + metrics["val_images"] == 96
    ae_encoder = regae.load(ae).net.encoder.state_dict()
    tuned = encoder_of(tmp_path / "ft" / "classifier.ckpt")
    assert not torch.equal(tuned["1.weight"], ae_encoder["1.weight"])  # the encoder itself was fine-tuned


def test_the_linear_probe_learns_the_classes_and_leaves_the_encoder_bit_for_bit(tmp_path, toy):
    data, ae = toy
    moved = shutil.copy(data, tmp_path / "moved.npz")  # --data.path alone: the recorded kind (npz) read there
    out = finetune("--ckpt", str(ae), "--out", str(tmp_path / "ft"), "--epochs", "10", "--lr", "0.1",
                   "--freeze-encoder", "--data.path", str(moved), "--data.val_size", "0", *QUICK)
    metrics = json.loads((tmp_path / "ft" / "metrics.json").read_text())
    assert metrics["test_accuracy"]["accuracy"] == 1.0 and metrics["dataset"]["dataset"] == f"npz:{moved}"
    assert metrics["val_images"] == 0 and metrics["val_accuracy"] is None and "val/acc" not in out
    ae_encoder = regae.load(ae).net.encoder.state_dict()
    tuned = encoder_of(tmp_path / "ft" / "classifier.ckpt")
    assert tuned.keys() == ae_encoder.keys()
    for name, weight in ae_encoder.items():
        assert torch.equal(tuned[name], weight), name


def test_mnist_from_a_tiny_checkpoint_writes_a_classifier_that_loads_back(tmp_path, mnist_ae):
    out_dir = tmp_path / "ft"
    out = finetune("--ckpt", str(mnist_ae), "--out", str(out_dir), "--epochs", "1", "--train-images", "256",
                   "--data.val_size", "200", *QUICK)
    metrics = json.loads((out_dir / "metrics.json").read_text())
    acc, err = metrics["test_accuracy"], metrics["test_error"]
    assert metrics["steps"] == 16 and metrics["train_images"] == 256 and metrics["val_images"] == 200
    assert acc["n_test"] == 10_000 and metrics["dataset"]["dataset"] == "mnist"
    k = round(acc["accuracy"] * 10_000)
    assert (acc["ci_low"], acc["ci_high"]) == pytest.approx(wilson_interval(k, 10_000))
    assert (err["ci_low"], err["ci_high"]) == pytest.approx(wilson_interval(10_000 - k, 10_000))
    assert acc["ci_low"] < acc["accuracy"] < acc["ci_high"] and err["error"] == pytest.approx(1 - acc["accuracy"])
    assert f"test accuracy {100 * acc['accuracy']:.2f} %" in out and str(out_dir / "classifier.ckpt") in out

    ckpt = read_checkpoint(out_dir / "classifier.ckpt")
    assert set(ckpt) == {"state_dict", "hyper_parameters", "pytorch-lightning_version", "regae", "ImageDataModule"}
    clf = EncoderClassifier.from_checkpoint(ckpt)  # weights only: no optimizer state, no loop state
    assert clf.data_record["dataset"] == "mnist" and clf.hparams.num_classes == 10
    test_images, test_labels = regae.load_split("test")
    assert (classify(clf, test_images) == test_labels).sum().item() == k  # the same classifier, the same answers
    with pytest.raises(CheckpointError, match="holds a 'classifier' model, not an autoencoder"):
        regae.load(out_dir / "classifier.ckpt")


def test_refusals_are_one_line_and_write_nothing(tmp_path, mnist_ae):
    out = tmp_path / "ft"
    finetune("--ckpt", str(mnist_ae), "--out", str(tmp_path / "clf"), "--epochs", "1", "--train-images", "32",
             "--data.val_size", "20", *QUICK)
    np.save(tmp_path / "plain.npy", np.zeros((40, 28, 28), np.uint8))
    with threads(1):
        unlabelled_ae = fit_tiny(tmp_path / "unlabelled", "--data.dataset", f"npy:{tmp_path / 'plain.npy'}")
    separable_npz(tmp_path / "small.npz", size=16)
    np.savez(tmp_path / "one.npz", images=np.zeros((40, 28, 28), np.uint8), labels=np.zeros(40, int))
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    (tmp_path / "a-file").write_text("")
    cases = [
        (["--ckpt", str(tmp_path / "clf" / "classifier.ckpt")], "holds a 'classifier' model, not an autoencoder"),
        (["--ckpt", str(tmp_path / "nope.ckpt")], "checkpoint not found"),
        (["--ckpt", str(tmp_path / "junk.ckpt")], "junk.ckpt"),
        (["--ckpt", str(unlabelled_ae)], "plain.npy has no labels, and fine-tuning needs them"),
        (["--ckpt", str(mnist_ae), "--data.dataset", f"npy:{tmp_path / 'plain.npy'}"], "has no labels"),
        (["--ckpt", str(mnist_ae), "--data.dataset", f"npz:{tmp_path / 'one.npz'}"], "has one class ('0')"),
        (["--ckpt", str(mnist_ae), "--data.dataset", f"npz:{tmp_path / 'small.npz'}"],
         "images are 1x16x16 (C x H x W), but the encoder takes 1x28x28"),
        (["--ckpt", str(mnist_ae), "--epochs", "0"], "Expected --epochs >= 1, got 0."),
        (["--ckpt", str(mnist_ae), "--lr", "0"], "Expected --lr finite and > 0, got 0.0."),
        (["--ckpt", str(mnist_ae), "--lr", "-0.001"], "Expected --lr finite and > 0, got -0.001."),
        (["--ckpt", str(mnist_ae), "--batch-size", "0"], "Expected --batch-size >= 1, got 0."),
        (["--ckpt", str(mnist_ae), "--train-images", "0"], "Expected --train-images >= 1, got 0."),
        (["--ckpt", str(mnist_ae), "--threads", "0"], "Expected --threads >= 1, got 0."),
        (["--ckpt", str(mnist_ae), "--epochs", "two"], "argument --epochs: invalid int value: 'two'"),
        (["--ckpt", str(mnist_ae), "--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
        (["--ckpt", str(tmp_path)], "is a folder; name the checkpoint file"),
    ]
    for args, message in cases:
        line, stdout = one_line_error(*args, "--out", str(out))
        assert message in line, (args, line)
        assert not out.exists(), args  # refused before anything was created
    line, _ = one_line_error("--ckpt", str(mnist_ae), "--out", str(tmp_path / "a-file" / "ft"), *QUICK)
    assert line == f"regae: error: cannot write the fine-tuned classifier to {tmp_path / 'a-file' / 'ft'}: Not a directory"


def test_ctrl_c_stops_at_the_step_s_end_and_writes_nothing(tmp_path, mnist_ae, monkeypatch):
    step = EncoderClassifier.training_step

    def interrupted_at_step_3(self, batch, batch_idx):
        if batch_idx == 2:
            os.kill(os.getpid(), signal.SIGINT)  # caught by the Trainer's SaveOnInterrupt: a flag, not an exception
        return step(self, batch, batch_idx)

    monkeypatch.setattr(EncoderClassifier, "training_step", interrupted_at_step_3)
    out = tmp_path / "ft"
    code, _, err = run_cli("finetune", "--ckpt", str(mnist_ae), "--out", str(out), "--epochs", "2",
                           "--train-images", "128", "--data.val_size", "20", *QUICK)
    assert code == 130 and err.count("\n") == 1 and "Traceback" not in err, err[-2000:]
    assert err.startswith("regae: interrupted at step 3: nothing written")
    assert list(out.iterdir()) == []  # no classifier.ckpt, no metrics.json, no temporary file


def test_help_exits_0():
    code, out, _ = run_cli("finetune", "--help")
    assert code == 0 and "--ckpt PATH" in out and "--freeze-encoder" in out and "--data.dataset" in out


def test_the_config_names_what_the_model_accepts():
    from regae.model.optimizers import OPTIMIZERS
    from regae.model.schedule import SCHEDULES

    assert set(DEFAULT_LR) == set(OPTIMIZERS) and LR_SCHEDULES == SCHEDULES
    assert FinetuneConfig(optimizer="sgd").lr == 0.1 and FinetuneConfig(lr=0.5).lr == 0.5
    with pytest.raises(ConfigError, match="Expected --train-images >= 1, got 0."):
        FinetuneConfig(train_images=0)
    with pytest.raises(ConfigError, match=r"Expected --lr finite and > 0, got nan."):
        FinetuneConfig(lr=float("nan"))

"""Supervised fine-tuning of a pre-trained encoder (``regae finetune``): encoder + softmax layer, test accuracy.

The encoder of an autoencoder checkpoint gets a linear softmax layer on its code, and the whole
network (with ``freeze_encoder``, the layer alone: a linear probe of the codes) is trained with
labels (:class:`~regae.model.classifier.EncoderClassifier`), then scored on the whole test split::

    p(y | x) = softmax(V h(x) + c),   loss = −log p(y | x),   accuracy = mean over test images of [argmax p = y]

with its 95 % Wilson interval (:func:`regae.reports.stats.accuracy_summary`, as the report's
classifiers), and the error 1 − accuracy with the same interval flipped. The data is the dataset the checkpoint was trained on (its record; MNIST for
checkpoints older than records) unless ``--data.*`` options name another labelled dataset of the
encoder's image shape. Training runs on the one Trainer (:func:`~regae.training.trainer.make_trainer`:
a line per epoch, core sharing, Ctrl-C finishes the step and stops) and writes nothing; only a
finished run writes ``classifier.ckpt`` (weights only: :func:`~regae.checkpoints.slim.save_model`)
and ``metrics.json``, each atomically, so an interrupted run leaves the output folder as it was.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from regae.analysis.options import FinetuneConfig
from regae.analysis.probe import fmt_acc
from regae.analysis.report import load_checked, resolve_device
from regae.checkpoints.slim import save_model
from regae.checkpoints.write import atomic_write_json, check_writable
from regae.data.datamodule import ImageDataModule
from regae.data.registry import recorded_options
from regae.errors import DataError, OutputError
from regae.model.autoencoder import AutoEncoder
from regae.model.classifier import EncoderClassifier
from regae.model.inference import classify
from regae.reports.stats import accuracy_summary, error_side
from regae.threads.count import threads
from regae.training.interrupt import SaveOnInterrupt, TrainingInterrupted
from regae.training.noise import third_party_noise
from regae.training.trainer import make_trainer

CLASSIFIER_FILE = "classifier.ckpt"
METRICS_FILE = "metrics.json"


def _dims(shape: tuple[int, ...] | list[int]) -> str:
    return "x".join(str(s) for s in shape)


def labelled_data(model: AutoEncoder, data_options: dict[str, Any], cfg: FinetuneConfig) -> ImageDataModule:
    """The data module ``model``'s encoder is fine-tuned on: ``data_options`` (``ImageDataModule``'s
    names) over the checkpoint's recorded dataset, or, with a ``dataset`` among them, that one alone;
    a ``path`` without a ``dataset`` reads the recorded kind of dataset there (data that moved).

    A dataset without labels, with one class, or whose images are not the encoder's (C, H, W) is a
    :class:`~regae.errors.DataError`.
    """
    options = dict(data_options)
    if "dataset" not in options:
        options = {**recorded_options(model.data_record), **options}
        if "path" in data_options:  # 'npz:/old/x.npz' -> 'npz', read at the given path
            options["dataset"] = options["dataset"].partition(":")[0]
    data = ImageDataModule(batch_size=cfg.batch_size, limit_train=cfg.train_images, shuffle_seed=cfg.seed, **options)
    ds = data.data
    if not ds.labelled:
        raise DataError(f"{ds.spec} has no labels, and fine-tuning needs them: class subfolders (folder:), "
                        "a `labels` array (npz:) or the label files (idx:)")
    if len(ds.classes) < 2:
        raise DataError(f"{ds.spec} has one class ({ds.classes[0]!r}); a classifier needs at least two")
    if tuple(ds.shape) != tuple(model.input_shape):
        hint = ("; the checkpoint does not record its dataset: name it with --data.dataset"
                if model.data_record is None and "dataset" not in data_options else
                "; an image folder can be resized with --data.image_size and --data.channels")
        raise DataError(f"{ds.spec}: images are {_dims(ds.shape)} (C x H x W), but the encoder takes "
                        f"{_dims(model.input_shape)}{hint}")
    return data


@dataclass
class FineTuned:
    """A fine-tuned classifier, its test accuracy and where it was written."""

    model: EncoderClassifier  # eval mode, on the CPU
    test: dict[str, Any]  # accuracy_summary of the test split: accuracy, ci_low, ci_high, n_test, ...
    error: dict[str, Any]  # its error side: error, ci_low, ci_high, n_test
    val_accuracy: float | None  # after the last epoch
    steps: int
    seconds: float  # wall clock of training and testing
    checkpoint: Path
    metrics: Path

    def result_text(self) -> str:
        """'test accuracy 97.05 % [96.71, 97.37], error 2.95 % [2.63, 3.29] on 10,000 test images (95 % Wilson
        intervals)'."""
        e = self.error
        return (f"test accuracy {fmt_acc(self.test)}, error {100 * e['error']:.2f} % [{100 * e['ci_low']:.2f}, "
                f"{100 * e['ci_high']:.2f}] on {self.test['n_test']:,} test images (95 % Wilson intervals)")


def fine_tune(ckpt: str | Path, out: str | Path, cfg: FinetuneConfig | None = None,
              data_options: dict[str, Any] | None = None, command: str = "") -> FineTuned:
    """Fine-tune the encoder of the autoencoder at ``ckpt`` with labels (module docstring); write
    ``out/classifier.ckpt`` and ``out/metrics.json``. ``data_options``: ``ImageDataModule`` keyword
    arguments (``dataset``, ``path``, ``image_size``, ...); ``command``: recorded in metrics.json."""
    cfg = cfg or FinetuneConfig()
    data_options = dict(data_options or {})
    ckpt, out = Path(ckpt), Path(out)
    device = resolve_device(cfg.device)
    _, ae = load_checked(ckpt, torch.device("cpu"))
    data = labelled_data(ae, data_options, cfg)
    classes = data.data.classes
    check_writable(out, "the fine-tuned classifier")  # after every refusal: a refused run creates no folder
    t0, load0 = time.perf_counter(), os.getloadavg()[0]
    with threads(cfg.threads) if cfg.threads is not None else contextlib.nullcontext(), third_party_noise():
        pl.seed_everything(cfg.seed, verbose=False)  # the softmax layer's initial weights
        clf = EncoderClassifier.from_autoencoder(
            ae, num_classes=len(classes), optimizer=cfg.optimizer, lr=cfg.lr, lr_schedule=cfg.lr_schedule,
            momentum=cfg.momentum if cfg.optimizer == "sgd" else 0.0, freeze_encoder=cfg.freeze_encoder)
        cuda = device.type == "cuda"
        trainer = make_trainer(accelerator="gpu" if cuda else "cpu", devices=[device.index or 0] if cuda else 1,
                               max_epochs=cfg.epochs, logger=False, enable_checkpointing=False,
                               num_sanity_val_steps=0, limit_val_batches=None if data.val_size else 0,
                               default_root_dir=str(out))
        trainer.fit(clf, datamodule=data)
        stop = next((c for c in trainer.callbacks if isinstance(c, SaveOnInterrupt)), None)
        if stop is not None and stop.stopped_at is not None:
            raise TrainingInterrupted(f"interrupted at step {stop.stopped_at}: nothing written (a fine-tuning "
                                      f"run keeps no partial classifier); {out} is as it was")
        val = trainer.callback_metrics.get("val/acc")
        test = data.data.test
        correct = (classify(clf.to(device), test.images) == test.labels).numpy()  # (N,) bool
    clf = clf.cpu().eval()
    summary = accuracy_summary([correct])
    error = error_side(summary)
    seconds = time.perf_counter() - t0
    checkpoint = out / CLASSIFIER_FILE
    metrics = {
        "command": command, "autoencoder": str(ckpt), "classifier": str(checkpoint), "dataset": data.record(),
        "config": asdict(cfg),
        "train_images": len(data.train[0]), "val_images": len(data.val[0]), "test_images": len(test.images),
        "steps": trainer.global_step, "seconds": round(seconds, 2), "cpu_count": os.cpu_count(),
        "load_average": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "val_accuracy": round(float(val), 6) if val is not None else None,  # a float32 mean over the val images
        "test_accuracy": summary, "test_error": error,
        "statistics": "test accuracy and error (fractions) over the whole test split, each with its 95 % Wilson "
                      "score interval",
    }
    try:
        save_model(clf, checkpoint, data.record())
        written = atomic_write_json(metrics, out / METRICS_FILE)
    except OSError as exc:  # e.g. the disk filled up: each file is whole or absent, never half written
        raise OutputError(f"cannot write the fine-tuned classifier to {out}: {exc.strerror or exc}") from None
    return FineTuned(clf, summary, error, metrics["val_accuracy"], trainer.global_step, seconds, checkpoint,
                     written)

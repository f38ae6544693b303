"""What every study experiment shares: a training budget, a context, training and scoring.

An experiment is a function ``run(ctx: StudyContext) -> list[Section]``. The context carries
the budget, the device, the output folder and the seed, and memoises trained models by
their hyperparameters, so ``regae study all`` trains e.g. the deep MLP AE once for the
PCA comparison, the non-digit inputs and the CNN experiment.

Models are regae's own :class:`~regae.AutoEncoder` trained on :class:`~regae.MNISTDataModule`
by a Lightning ``Trainer``; scores are computed on the first ``budget.test_images`` MNIST
test images. PSNR over a set is 10 log10(1 / MSE) with the MSE averaged over all its pixels
(what torchmetrics' ``PeakSignalNoiseRatio(data_range=1)`` accumulates).
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor

from regae.data.datamodule import MNISTDataModule
from regae.data.mnist import load_split, to_float
from regae.errors import ConfigError
from regae.module import AutoEncoder


@dataclass(frozen=True)
class Budget:
    """How much every model of an experiment trains on, and how much it is scored on.

    ``train_images=None`` means all 55,000 training images (5,000 are held out for validation).
    """

    name: str
    train_images: int | None
    test_images: int
    epochs: int
    batch_size: int = 128

    def __post_init__(self) -> None:
        if self.train_images is not None and self.train_images < 1:
            raise ConfigError(f"Expected `train_images` >= 1 or None, got {self.train_images}.")
        if not 1 <= self.test_images <= 10_000:
            raise ConfigError(f"Expected `test_images` in [1, 10000], got {self.test_images}.")
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError(f"Expected `epochs` and `batch_size` >= 1, got {self.epochs}, {self.batch_size}.")

    @property
    def n_train(self) -> int:
        return 55_000 if self.train_images is None else min(self.train_images, 55_000)

    def steps(self, batch_size: int | None = None) -> int:
        return self.epochs * math.ceil(self.n_train / (batch_size or self.batch_size))

    def scaled(self, images: float = 1.0, epochs: float = 1.0) -> Budget:
        """A cheaper variant for costly nets (never below 1 epoch / 64 images); ``full`` is never scaled."""
        if self.name == "full":
            return self
        return replace(self, train_images=max(64, int(self.n_train * images)), epochs=max(1, round(self.epochs * epochs)))

    def describe(self, batch_size: int | None = None) -> str:
        return (f"{self.n_train:,} training images x {self.epochs} epochs, batch {batch_size or self.batch_size} "
                f"({self.steps(batch_size):,} steps); scored on {self.test_images:,} test images")


BUDGETS = {
    "tiny": Budget("tiny", train_images=512, test_images=256, epochs=2, batch_size=64),
    # batch 64: on a CPU the cost is per image, so smaller batches buy twice the steps for the same time
    "small": Budget("small", train_images=12_000, test_images=2_000, epochs=8, batch_size=64),
    "full": Budget("full", train_images=None, test_images=10_000, epochs=20),
}


def accelerator(device: str) -> str:
    return "gpu" if device.startswith("cuda") else "cpu"


class EpochRecorder(pl.Callback):
    """Records the mean training loss and (if validation runs) the validation loss per epoch."""

    def __init__(self) -> None:
        self.train: list[float] = []
        self.val: list[float] = []
        self._sum, self._n = 0.0, 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self._sum, self._n = self._sum + float(loss), self._n + 1

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.train.append(self._sum / max(self._n, 1))
        self._sum, self._n = 0.0, 0

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking and "val/loss" in trainer.callback_metrics:
            self.val.append(float(trainer.callback_metrics["val/loss"]))


@dataclass
class Trained:
    """A trained model with its training record."""

    model: AutoEncoder
    seconds: float
    steps: int
    epochs: EpochRecorder
    trainer: pl.Trainer


@dataclass
class StudyContext:
    """Budget, device, output folder and seed of a study run, plus its memo of trained models."""

    budget: Budget
    out: Path
    device: str = "cpu"
    seed: int = 0
    log: Callable[[str], None] = print
    _trained: dict[str, Trained] = field(default_factory=dict)
    _test: tuple[Tensor, Tensor] | None = None

    def __post_init__(self) -> None:
        self.out = Path(self.out)

    def figure_path(self, key: str, name: str) -> tuple[Path, Path]:
        """(absolute path to write, path relative to ``out`` for the Section) of figure ``name``."""
        rel = Path("figures") / key / name
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path, rel

    def test_set(self) -> tuple[Tensor, Tensor]:
        """The first ``budget.test_images`` MNIST test images (N, 1, 28, 28) in [0, 1] and labels (N,)."""
        if self._test is None:
            test = load_split("test")
            n = self.budget.test_images
            self._test = to_float(test.images[:n]), test.labels[:n]
        return self._test

    def train_set(self, budget: Budget | None = None) -> tuple[Tensor, Tensor]:
        """The training images the models of ``budget`` see (MNISTDataModule's split), float and labels."""
        budget = budget or self.budget
        data = MNISTDataModule(limit_train=budget.train_images, limit_test=budget.test_images, split_seed=0)
        data.setup("fit")
        return to_float(data.train[0]), data.train[1]

    def memo(self, key: str, build: Callable[[], Any]) -> Any:
        """``build()`` once per key and run (e.g. a classifier several experiments use)."""
        key = f"memo:{key}:{self.seed}:{json.dumps(self.budget.__dict__, sort_keys=True)}"
        if key not in self._trained:
            self._trained[key] = build()
        return self._trained[key]

    def initial_model(self, **model_kwargs: Any) -> AutoEncoder:
        """The untrained model :meth:`fit` starts from (same seed, same weights)."""
        pl.seed_everything(self.seed, verbose=False)
        return AutoEncoder(seed=self.seed, history_every=1, **model_kwargs).eval()

    def fit(self, label: str, budget: Budget | None = None, validate: bool = False, **model_kwargs: Any) -> Trained:
        """Train ``AutoEncoder(**model_kwargs)`` (memoised by hyperparameters and budget)."""
        budget = budget or self.budget
        key = json.dumps({"m": model_kwargs, "b": budget.__dict__, "v": validate, "s": self.seed}, sort_keys=True)
        if key in self._trained:
            return self._trained[key]
        self.log(f"  training {label}: {budget.describe()}")
        start = time.perf_counter()
        pl.seed_everything(self.seed, verbose=False)
        model = AutoEncoder(seed=self.seed, history_every=1, **model_kwargs)
        data = MNISTDataModule(
            batch_size=budget.batch_size, limit_train=budget.train_images, limit_test=budget.test_images,
            split_seed=0, shuffle_seed=self.seed,
        )
        recorder = EpochRecorder()
        trainer = pl.Trainer(
            accelerator=accelerator(self.device), devices=1, max_epochs=budget.epochs, logger=False,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            limit_val_batches=1.0 if validate else 0, num_sanity_val_steps=0, callbacks=[recorder],
        )
        trainer.fit(model, datamodule=data)
        trained = Trained(model.eval(), time.perf_counter() - start, trainer.global_step, recorder, trainer)
        self.log(f"    done in {trained.seconds:.1f} s ({trained.steps} steps)")
        self._trained[key] = trained
        return trained


@torch.no_grad()
def reconstruct(model: AutoEncoder, x: Tensor, batch: int = 1000) -> Tensor:
    """model(x).x_hat in eval mode, in batches, on the model's device; returned on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model(x[i : i + batch].to(device)).x_hat.cpu() for i in range(0, len(x), batch)])


@torch.no_grad()
def encode(model: AutoEncoder, x: Tensor, batch: int = 1000) -> Tensor:
    """model.encode(x) in eval mode, in batches: (N, d) on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model.encode(x[i : i + batch].to(device)).cpu() for i in range(0, len(x), batch)])


def one_per_class(labels: Tensor, per_class: int = 1) -> Tensor:
    """Indices of the first ``per_class`` examples of each class 0..9, ordered by class."""
    return torch.cat([torch.nonzero(labels == c).flatten()[:per_class] for c in range(10)])


def mse(x_hat: Tensor, x: Tensor) -> float:
    """Mean squared error over all pixels of the set."""
    return float((x_hat - x).pow(2).mean())


def psnr(x_hat: Tensor, x: Tensor) -> float:
    """PSNR of the set in dB: 10 log10(1 / MSE), data range 1."""
    err = mse(x_hat, x)
    return float("inf") if err == 0 else 10 * math.log10(1.0 / err)


def quiet_lightning() -> None:
    """Silence Lightning's per-run info lines (GPU available, TPU ...) during a study."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*`srun` command is available.*")
    warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\)")

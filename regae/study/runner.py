"""What every study experiment shares: a context, training with learning curves, and scoring.

An experiment is a function ``run(ctx: StudyContext) -> list[Section]``. The context carries
the level (:mod:`regae.study.budgets`), the device, the output folder and the seeds, and
memoises trained models by their hyperparameters, so ``regae study all`` trains e.g. the
deep AE once for the PCA comparison, the non-digit inputs and the CNN experiment.

Models are regae's own :class:`~regae.AutoEncoder` trained on :class:`~regae.MNISTDataModule`
by the Trainer every regae run gets (:func:`regae.training.trainer.make_trainer`: atomic
checkpoint IO, core sharing, one line per epoch), validated after every epoch on held-out
training images (the learning curves); scores are computed on the first ``level.test_images``
MNIST test images with :mod:`regae.model.inference` (PSNR pooled over all pixels of the set).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor

from regae.checkpoints.read import load, read_checkpoint
from regae.checkpoints.slim import save_model
from regae.checkpoints.write import atomic_write_json
from regae.data.datamodule import MNISTDataModule
from regae.data.mnist import load_split, to_float
from regae.data.registry import load_dataset
from regae.model.autoencoder import AutoEncoder
from regae.model.classifier import EncoderClassifier
from regae.study.budgets import LEVELS, RECIPES, Budget, Level, Recipe, plan
from regae.training.checkpointing import RegaeCheckpoint
from regae.training.progress import EpochSummary
from regae.training.trainer import make_trainer


def accelerator(device: str) -> str:
    return "gpu" if device.startswith("cuda") else "cpu"


class EpochRecorder(pl.Callback):
    """Records the mean training loss and (if validation runs) the validation loss and PSNR (an
    autoencoder) or accuracy (a classifier) per epoch, and the wall and CPU seconds of training.

    Its record is part of a checkpoint's callback state, so a run resumed from one continues its
    curves and its clock (``earlier``: the seconds of the invocations before this one)."""

    def __init__(self) -> None:
        self.train: list[float] = []
        self.val: list[float] = []
        self.val_psnr: list[float] = []
        self.val_acc: list[float] = []
        self.earlier = (0.0, 0.0)  # (wall, CPU) seconds trained before this invocation
        self._sum, self._n = 0.0, 0
        self._t0 = (time.perf_counter(), time.process_time())

    def seconds(self) -> tuple[float, float]:
        """(wall, CPU) seconds of training so far, earlier invocations included."""
        return (self.earlier[0] + time.perf_counter() - self._t0[0], self.earlier[1] + time.process_time() - self._t0[1])

    def state_dict(self) -> dict[str, Any]:
        return {"train": self.train, "val": self.val, "val_psnr": self.val_psnr, "val_acc": self.val_acc,
                "seconds": self.seconds()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.train, self.val = list(state["train"]), list(state["val"])
        self.val_psnr, self.val_acc = list(state["val_psnr"]), list(state["val_acc"])
        self.earlier, self._t0 = tuple(state["seconds"]), (time.perf_counter(), time.process_time())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self._sum, self._n = self._sum + float(loss), self._n + 1

    def on_train_epoch_end(self, trainer, pl_module) -> None:  # runs after the epoch's validation
        self.train.append(self._sum / max(self._n, 1))
        self._sum, self._n = 0.0, 0

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        metrics = trainer.callback_metrics
        if not trainer.sanity_checking and "val/loss" in metrics:
            self.val.append(float(metrics["val/loss"]))
            for key, values in (("val/psnr", self.val_psnr), ("val/acc", self.val_acc)):
                if key in metrics:
                    values.append(float(metrics[key]))


def train_model(model: pl.LightningModule, data: MNISTDataModule, epochs: int, device: str = "cpu",
                callbacks: list[pl.Callback] = (), lines_every: int = 1, indent: str = "    ",
                resume_dir: Path | None = None) -> pl.Trainer:
    """Fit ``model`` on ``data`` for ``epochs`` with the one Trainer builder: no logger, validation after
    every epoch, an epoch line every ``lines_every`` epochs (and the last). With ``resume_dir``, a
    ``last.ckpt`` is written there after every epoch and a run that finds one continues from it
    (weights, optimizer, loader position, the callbacks' records); without, no checkpoints."""
    ckpt_cb = ([RegaeCheckpoint(dirpath=resume_dir, filename="last", save_top_k=1, monitor=None, save_last=False,
                                every_n_epochs=1, enable_version_counter=False)] if resume_dir is not None else [])
    trainer = make_trainer(
        accelerator=accelerator(device), devices=1, max_epochs=epochs, logger=False,
        enable_checkpointing=resume_dir is not None, enable_progress_bar=False, num_sanity_val_steps=0,
        callbacks=[*callbacks, *ckpt_cb, EpochSummary(every=lines_every, prefix=indent)],
    )
    last = resume_dir / "last.ckpt" if resume_dir is not None else None
    ckpt_path = str(last) if last is not None and last.is_file() else None
    for cb in ckpt_cb:
        cb.resuming = ckpt_path is not None
    trainer.fit(model, datamodule=data, ckpt_path=ckpt_path)
    return trainer


@dataclass
class Trained:
    """A trained model with its training record: learning curves, wall and CPU seconds, load."""

    model: AutoEncoder
    label: str
    seed: int
    budget: Budget
    seconds: float
    cpu_seconds: float
    load: float  # 1-minute load average, mean of the values at the start and the end of training
    steps: int
    train_loss: list[float]  # mean training loss of each epoch
    val_loss: list[float]  # validation loss after each epoch
    val_psnr: list[float]  # validation PSNR (dB) after each epoch
    cached: bool = False  # loaded from the cache: trained by an earlier invocation
    key: str = ""  # what it was memoised and cached under (spec, budget, seed, device)

    def save_checkpoint(self, path: Path) -> None:
        """A weights-only checkpoint of the model (:func:`regae.checkpoints.slim.save_model`); MNIST's record."""
        save_model(self.model, path, load_dataset("mnist").record())

    def record(self) -> dict[str, Any]:
        """The JSON-able training record (what the cache stores next to the weights)."""
        return {"label": self.label, "seed": self.seed, "budget": asdict(self.budget), "seconds": self.seconds,
                "cpu_seconds": self.cpu_seconds, "load": self.load, "steps": self.steps,
                "train_loss": self.train_loss, "val_loss": self.val_loss, "val_psnr": self.val_psnr}


@dataclass
class Tuned:
    """A fine-tuned classifier with its training record (the classifier counterpart of :class:`Trained`)."""

    model: EncoderClassifier
    label: str
    seed: int
    budget: Budget
    seconds: float
    cpu_seconds: float
    load: float
    steps: int
    train_loss: list[float]
    val_loss: list[float]
    val_acc: list[float]  # validation accuracy in [0, 1] after each epoch
    cached: bool = False

    def record(self) -> dict[str, Any]:
        return {"label": self.label, "seed": self.seed, "budget": asdict(self.budget), "seconds": self.seconds,
                "cpu_seconds": self.cpu_seconds, "load": self.load, "steps": self.steps,
                "train_loss": self.train_loss, "val_loss": self.val_loss, "val_acc": self.val_acc}


@dataclass
class StudyContext:
    """Level, device, output folder, seeds and model cache of a study run, plus its memo of trained models.

    ``seeds`` overrides every recipe's seed count (``regae study --seeds N``); ``cache`` is a folder
    where every trained model is kept (checkpoint + training record) and found again by a later
    run with the same net, budget and seed, so a killed run resumes model by model.
    """

    level: Level
    out: Path
    device: str = "cpu"
    seed: int = 0
    seeds: int | None = None
    cache: Path | None = None
    log: Callable[[str], None] = print
    _trained: dict[str, Any] = field(default_factory=dict)
    _test: tuple[Tensor, Tensor] | None = None

    def __post_init__(self) -> None:
        self.level = LEVELS[self.level] if isinstance(self.level, str) else self.level
        self.out = Path(self.out)
        self.cache = Path(self.cache) if self.cache is not None else None

    def budget(self, recipe: str | Recipe) -> Budget:
        """``recipe`` (a name in :data:`~regae.study.budgets.RECIPES`, or a Recipe) at this run's level."""
        return plan(self.level, recipe, self.seeds)

    def budget_text(self, recipe: str | Recipe) -> str:
        """A section's sentence on a recipe's budget and the pilot evidence it was chosen from."""
        r = RECIPES[recipe] if isinstance(recipe, str) else recipe
        return (f"Budget ({self.level.name} level, recipe `{r.name}`): {self.budget(r).describe()}."
                + (f" {r.evidence}" if r.evidence else ""))

    def seed_list(self, recipe: str | Recipe) -> list[int]:
        """The training seeds of ``recipe``'s models: seed, seed + 1, ..."""
        return [self.seed + i for i in range(self.budget(recipe).seeds)]

    def figure_path(self, key: str, name: str) -> tuple[Path, Path]:
        """(absolute path to write, path relative to ``out`` for the Section) of figure ``name``."""
        rel = Path("figures") / key / name
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path, rel

    def test_set(self) -> tuple[Tensor, Tensor]:
        """The first ``level.test_images`` MNIST test images (N, 1, 28, 28) in [0, 1] and labels (N,)."""
        if self._test is None:
            test = load_split("test")
            n = self.level.test_images
            self._test = to_float(test.images[:n]), test.labels[:n]
        return self._test

    def train_set(self, recipe: str | Recipe) -> tuple[Tensor, Tensor]:
        """The training images ``recipe``'s models see (MNISTDataModule's split), float, and labels."""
        data = MNISTDataModule(limit_train=self.budget(recipe).train_images, limit_test=1, split_seed=0)
        data.setup("fit")
        return to_float(data.train[0]), data.train[1]

    def val_set(self) -> tuple[Tensor, Tensor]:
        """The ``level.val_images`` held-out training images the AEs validate on, float, and labels."""
        data = MNISTDataModule(limit_test=self.level.val_images, split_seed=0)
        data.setup("fit")
        return to_float(data.val[0]), data.val[1]

    def memo(self, key: str, build: Callable[[], Any]) -> Any:
        """``build()`` once per key and run (e.g. a classifier several experiments use)."""
        key = f"memo:{key}:{self.seed}:{self.level.name}:{self.seeds}"
        if key not in self._trained:
            self._trained[key] = build()
        return self._trained[key]

    def trained_models(self) -> list[Trained]:
        """Every autoencoder this run has trained or loaded from the cache so far."""
        return [t for t in self._trained.values() if isinstance(t, Trained)]

    def all_models(self) -> list[Trained | Tuned]:
        """Every autoencoder and fine-tuned classifier this run has trained or loaded so far."""
        return [t for t in self._trained.values() if isinstance(t, (Trained, Tuned))]

    def initial_model(self, **model_kwargs: Any) -> AutoEncoder:
        """The untrained model :meth:`fit` starts from with ``ctx.seed`` (same seed, same weights)."""
        pl.seed_everything(self.seed, verbose=False)
        return AutoEncoder(seed=self.seed, history_every=1, **model_kwargs).eval()

    def fit_seeds(self, label: str, recipe: str | Recipe, **spec: Any) -> list[Trained]:
        """``spec`` trained with ``recipe``'s budget once per seed of :meth:`seed_list`."""
        return [self.fit(label, recipe, seed=s, **spec) for s in self.seed_list(recipe)]

    def fit(self, label: str, recipe: str | Recipe, seed: int | None = None, **spec: Any) -> Trained:
        """Train ``AutoEncoder(**spec)`` with ``recipe``'s budget, validating after every epoch.

        Memoised by (spec, training budget, seed) within the run, and across runs through ``cache``
        (a model the default and the full level train alike is trained once).
        """
        seed = self.seed if seed is None else seed
        budget = replace(self.budget(recipe), seeds=1)  # the seed count does not change one run
        training = {k: v for k, v in asdict(budget).items() if k not in ("level", "recipe", "seeds", "test_images")}
        for option in ("pretrain_epochs", "pretrain_corrupt"):  # models trained before an option existed keep their keys
            if not training[option]:
                del training[option]
        key = json.dumps({"m": spec, "b": training, "s": seed, "d": self.device}, sort_keys=True)
        if key in self._trained:
            return self._trained[key]
        trained = self._from_cache(key, label, seed, budget)
        if trained is None:
            trained = self._train(label, seed, budget, spec, key)
            self._to_cache(key, trained)
        trained.key = key
        self._trained[key] = trained
        return trained

    def _train(self, label: str, seed: int, budget: Budget, spec: dict[str, Any], key: str = "") -> Trained:
        run_dir = self._run_dir(key)
        resuming = run_dir is not None and (run_dir / "last.ckpt").is_file()
        self.log(f"  training {label} (seed {seed}): {budget.describe()}"
                 + (f"; resuming from {run_dir / 'last.ckpt'}" if resuming else ""))
        load0 = os.getloadavg()[0]
        pl.seed_everything(seed, verbose=False)
        model = AutoEncoder(seed=seed, history_every=1, **budget.model_kwargs(), **spec)
        data = MNISTDataModule(
            batch_size=budget.batch_size, limit_train=budget.train_images, limit_test=budget.val_images,
            split_seed=0, shuffle_seed=seed,
        )
        recorder = EpochRecorder()
        if budget.pretrain_epochs and not resuming:  # a resumed run's weights come from its checkpoint
            from regae.study.pretrain import pretrain_on

            pretrain_on(model.net, data, budget.pretrain_epochs, budget.lr, budget.batch_size, seed, self.log,
                        corrupt=budget.pretrain_corrupt)
        trainer = train_model(model, data, budget.epochs, self.device, [recorder], max(1, budget.epochs // 10),
                              resume_dir=run_dir) if budget.epochs else None  # 0 epochs: as pre-training left it
        wall, cpu = recorder.seconds()
        trained = Trained(model.eval(), label, seed, budget, wall, cpu, (load0 + os.getloadavg()[0]) / 2,
                          trainer.global_step if trainer else 0, recorder.train, recorder.val, recorder.val_psnr)
        self.log(f"    done in {trained.seconds:.0f} s wall, {trained.cpu_seconds:.0f} s CPU (load {trained.load:.1f})"
                 + (f"; val PSNR {trained.val_psnr[-1]:.2f} dB" if trained.val_psnr else "; no end-to-end training"))
        return trained

    def fine_tune(self, label: str, pre: Trained, recipe: str | Recipe, **classifier: Any) -> Tuned:
        """``pre``'s encoder with a softmax layer on its code, trained with labels (an
        :class:`~regae.model.classifier.EncoderClassifier`, SGD by default) with ``recipe``'s epochs,
        batch and rate, validating after every epoch; memoised and cached like :meth:`fit`."""
        budget = replace(self.budget(recipe), seeds=1)
        training = {k: getattr(budget, k) for k in ("train_images", "val_images", "epochs", "batch_size", "lr", "warmup",
                                                     "lr_floor")}
        key = json.dumps({"pre": pre.key, "c": classifier, "b": training, "s": pre.seed}, sort_keys=True)
        if key in self._trained:
            return self._trained[key]
        paths = self._cache_paths(key)
        if paths is not None and paths[0].is_file() and paths[1].is_file() and json.loads(paths[1].read_text()).get("key") == key:
            rec = json.loads(paths[1].read_text())
            model = EncoderClassifier.from_checkpoint(read_checkpoint(paths[0]))
            self.log(f"  {label} (seed {pre.seed}): from the cache {paths[0]}")
            tuned = Tuned(model.eval(), label, pre.seed, budget, rec["seconds"], rec["cpu_seconds"], rec["load"],
                          rec["steps"], rec["train_loss"], rec["val_loss"], rec["val_acc"], cached=True)
        else:
            tuned = self._fine_tune(label, pre, budget, classifier, self._run_dir(key))
            if paths is not None:
                save_model(tuned.model, paths[0], load_dataset("mnist").record())
                atomic_write_json(tuned.record() | {"key": key}, paths[1])
                shutil.rmtree(self._run_dir(key), ignore_errors=True)
        self._trained[key] = tuned
        return tuned

    def _fine_tune(self, label: str, pre: Trained, budget: Budget, classifier: dict[str, Any],
                   run_dir: Path | None) -> Tuned:
        self.log(f"  fine-tuning {label} (seed {pre.seed}): {budget.n_train:,} training images x {budget.epochs} "
                 f"epochs, batch {budget.batch_size}, {classifier.get('optimizer', 'sgd')} {budget.lr:g}")
        load0 = os.getloadavg()[0]
        pl.seed_everything(pre.seed, verbose=False)
        model = EncoderClassifier.from_autoencoder(pre.model, lr=budget.lr, lr_schedule="cosine", warmup=budget.warmup,
                                                   lr_floor=budget.lr_floor, **classifier)
        data = MNISTDataModule(batch_size=budget.batch_size, limit_train=budget.train_images,
                               limit_test=budget.val_images, split_seed=0, shuffle_seed=pre.seed)
        recorder = EpochRecorder()
        trainer = train_model(model, data, budget.epochs, self.device, [recorder], max(1, budget.epochs // 10),
                              resume_dir=run_dir)
        wall, cpu = recorder.seconds()
        tuned = Tuned(model.eval(), label, pre.seed, budget, wall, cpu, (load0 + os.getloadavg()[0]) / 2,
                      trainer.global_step, recorder.train, recorder.val, recorder.val_acc)
        self.log(f"    done in {tuned.seconds:.0f} s wall, {tuned.cpu_seconds:.0f} s CPU (load {tuned.load:.1f}); "
                 f"val accuracy {100 * tuned.val_acc[-1]:.2f} %")
        return tuned

    def _run_dir(self, key: str) -> Path | None:
        """Where a model in training keeps its last epoch (``<cache>/<name>.run/last.ckpt``): a killed
        run restarted with the same cache continues that model from there, not from its start."""
        paths = self._cache_paths(key) if key else None
        return paths[0].with_suffix(".run") if paths is not None else None

    def _cache_paths(self, key: str) -> tuple[Path, Path] | None:
        if self.cache is None:
            return None
        name = hashlib.sha1(key.encode()).hexdigest()[:16]
        return self.cache / f"{name}.ckpt", self.cache / f"{name}.json"

    def _from_cache(self, key: str, label: str, seed: int, budget: Budget) -> Trained | None:
        paths = self._cache_paths(key)
        if paths is None or not (paths[0].is_file() and paths[1].is_file()):
            return None
        rec = json.loads(paths[1].read_text())
        if rec.get("key") != key:
            return None
        model = load(paths[0], map_location="cuda" if self.device.startswith("cuda") else "cpu")
        self.log(f"  {label} (seed {seed}): from the cache {paths[0]}")
        return Trained(model, label, seed, budget, rec["seconds"], rec["cpu_seconds"], rec["load"], rec["steps"],
                       rec["train_loss"], rec["val_loss"], rec["val_psnr"], cached=True)

    def _to_cache(self, key: str, trained: Trained) -> None:
        paths = self._cache_paths(key)
        if paths is None:
            return
        trained.save_checkpoint(paths[0])
        atomic_write_json(trained.record() | {"key": key}, paths[1])
        shutil.rmtree(paths[0].with_suffix(".run"), ignore_errors=True)  # the finished model replaces its epochs


def one_per_class(labels: Tensor, per_class: int = 1) -> Tensor:
    """Indices of the first ``per_class`` examples of each class 0..9, ordered by class."""
    return torch.cat([torch.nonzero(labels == c).flatten()[:per_class] for c in range(10)])

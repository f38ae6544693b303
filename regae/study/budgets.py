"""How long each model of the study trains: three levels x one recipe per kind of model.

A :class:`Level` fixes what every experiment gets: training images, test images, validation
images (held out of the training set, scored after every epoch for the learning curves).
A :class:`Recipe` fixes how one kind of model trains at each level: epochs, batch, Adam's
learning rate with a cosine decay after a linear warm-up (:mod:`regae.model.schedule`), and how
many seeds it repeats. ``plan(level, recipe)`` resolves the two into a :class:`Budget`.

The recipes' numbers come from pilot learning curves (``python -m regae.study.pilot``, one
torch thread, the shared 2-core CPU); each recipe's ``evidence`` says which.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from regae.errors import ConfigError

LEVELS_ORDER = ("tiny", "default", "full")


@dataclass(frozen=True)
class Level:
    """``train_images=None``: all 55,000 training images (5,000 are held out for validation)."""

    name: str
    train_images: int | None
    test_images: int
    val_images: int

    def __post_init__(self) -> None:
        if self.name not in LEVELS_ORDER:
            raise ConfigError(f"Expected a level in {list(LEVELS_ORDER)}, got {self.name!r}.")
        if self.train_images is not None and self.train_images < 1:
            raise ConfigError(f"Expected `train_images` >= 1 or None, got {self.train_images}.")
        if not 1 <= self.test_images <= 10_000:
            raise ConfigError(f"Expected `test_images` in [1, 10000], got {self.test_images}.")
        if not 1 <= self.val_images <= 5_000:
            raise ConfigError(f"Expected `val_images` in [1, 5000], got {self.val_images}.")


LEVELS = {
    "tiny": Level("tiny", train_images=512, test_images=256, val_images=256),
    "default": Level("default", train_images=None, test_images=10_000, val_images=5_000),
    "full": Level("full", train_images=None, test_images=10_000, val_images=5_000),
}


@dataclass(frozen=True)
class Recipe:
    """How one kind of model trains; ``epochs`` and ``seeds`` are (tiny, default, full).

    ``images`` caps the training images at the default level (costly nets); tiny and full
    ignore it (tiny has its own cap, full uses all). ``pretrain`` (tiny, default, full): epochs
    of greedy layer-wise pre-training per layer before the end-to-end training
    (:mod:`regae.study.pretrain`, MLP nets); 0 trains from the random start. ``pretrain_corrupt``:
    each pre-trained layer a denoising AE with this input corruption (e.g. ``masking:0.25``: a
    stacked denoising autoencoder); None, plain AEs. ``epochs`` 0 at a level: no end-to-end
    training, the net as pre-training left it (or as it starts: the random init a classifier
    fine-tunes from).
    """

    name: str
    epochs: tuple[int, int, int]
    batch_size: int = 128
    lr: float = 1e-3
    seeds: tuple[int, int, int] = (1, 3, 3)
    images: int | None = None
    warmup: float = 0.02
    lr_floor: float = 0.0
    pretrain: tuple[int, int, int] = (0, 0, 0)
    evidence: str = ""
    pretrain_corrupt: str | None = None

    def __post_init__(self) -> None:
        if len(self.pretrain) != 3 or min(self.pretrain) < 0:
            raise ConfigError(f"Expected 3 pre-training epoch counts >= 0 (tiny, default, full), got {self.pretrain}.")
        if len(self.epochs) != 3 or min(self.epochs) < 0 or len(self.seeds) != 3 or min(self.seeds) < 1:
            raise ConfigError(f"Expected 3 epochs >= 0 and 3 seed counts >= 1 (tiny, default, full), got "
                              f"{self.epochs}, {self.seeds}.")
        if self.pretrain_corrupt is not None:
            if not max(self.pretrain):
                raise ConfigError(f"Expected pre-training epochs with `pretrain_corrupt`={self.pretrain_corrupt!r}, "
                                  f"got pretrain={self.pretrain}.")
            from regae.data.corrupt import Corruption  # here: `regae study --help` reads the recipes without torch

            Corruption.parse(self.pretrain_corrupt)  # a bad spec fails here, with its allowed range
        if self.batch_size < 1 or not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"Expected `batch_size` >= 1 and `lr` > 0, got {self.batch_size}, {self.lr}.")


@dataclass(frozen=True)
class Budget:
    """One recipe at one level: everything one training run needs."""

    level: str
    recipe: str
    train_images: int | None
    test_images: int
    val_images: int
    epochs: int
    batch_size: int
    lr: float
    warmup: float
    lr_floor: float
    seeds: int
    pretrain_epochs: int = 0
    pretrain_corrupt: str | None = None

    @property
    def n_train(self) -> int:
        return 55_000 if self.train_images is None else min(self.train_images, 55_000)

    def steps(self) -> int:
        return self.epochs * math.ceil(self.n_train / self.batch_size)

    def model_kwargs(self) -> dict[str, float | str]:
        """The AutoEncoder arguments of the optimisation: Adam, lr, cosine schedule with warm-up."""
        return {"lr": self.lr, "lr_schedule": "cosine", "warmup": self.warmup, "lr_floor": self.lr_floor}

    def describe(self) -> str:
        seeds = f"{self.seeds} seed{'s' if self.seeds > 1 else ''}"
        kind = f" as denoising AEs ({self.pretrain_corrupt})" if self.pretrain_corrupt else ""
        per_layer = f"{self.pretrain_epochs} epoch{'s' if self.pretrain_epochs > 1 else ''} per layer"
        first = f"greedy layer-wise pre-training{kind}, {per_layer}, then " if self.pretrain_epochs else ""
        if not self.epochs:  # nothing end to end: the pre-trained stack, or the random init
            done = (f"greedy layer-wise pre-training{kind} on {self.n_train:,} training images, {per_layer}, batch "
                    f"{self.batch_size}, Adam {self.lr:g}; no end-to-end training") if self.pretrain_epochs else \
                "no training (the random init)"
            return f"{done}; {seeds}; scored on {self.test_images:,} test images"
        return (f"{first}{self.n_train:,} training images x {self.epochs} epochs, batch {self.batch_size} "
                f"({self.steps():,} steps), Adam {self.lr:g} with cosine decay after a {self.warmup:.0%} warm-up; "
                f"{seeds}; scored on {self.test_images:,} test images")


def plan(level: Level | str, recipe: Recipe | str, seeds: int | None = None) -> Budget:
    """The budget of ``recipe`` at ``level``; ``seeds`` overrides the recipe's seed count."""
    level = LEVELS[level] if isinstance(level, str) else level
    recipe = RECIPES[recipe] if isinstance(recipe, str) else recipe
    i = LEVELS_ORDER.index(level.name)
    images = level.train_images
    if level.name == "default" and recipe.images is not None:
        images = recipe.images if images is None else min(images, recipe.images)
    if seeds is not None and seeds < 1:
        raise ConfigError(f"Expected `seeds` >= 1, got {seeds}.")
    return Budget(level.name, recipe.name, images, level.test_images, level.val_images, recipe.epochs[i],
                  recipe.batch_size, recipe.lr, recipe.warmup, recipe.lr_floor, seeds or recipe.seeds[i],
                  recipe.pretrain[i], recipe.pretrain_corrupt if recipe.pretrain[i] else None)


RECIPES = {r.name: r for r in (
    Recipe("deep", epochs=(2, 50, 80), batch_size=64, lr=1e-3, seeds=(1, 1, 1), pretrain=(1, 5, 5), evidence=(
        "Pilots (55,000 images, 1 thread): the course's 784-512-256-128-30 with Adam 2e-3, batch 64, cosine over 30 "
        "epochs reached 22.6 dB validation PSNR (22.3 after 20 epochs; train MSE 0.0046 vs val 0.0055), short of "
        "Hinton's 24.2 dB, so the study uses Hinton's wider 784-1000-500-250-30 and a longer budget; with Adam 1e-3 "
        "at batch 128 it was 0.7–1 dB behind the course net at every one of the first 4 epochs, hence batch 64 "
        "(twice the steps per epoch). Regularized pilots of the 50-epoch budget (2026-11-30, one seed each, no interval): Gaussian input noise "
        "σ = 0.2 ended at 21.40 dB, 0.76 dB below the plain net; Adam's L2 weight decay 3e-5 was at 16.58 dB after "
        "11 epochs (plain: 20.47 dB after 10) and was stopped. Greedy layer-wise pre-training first (5 epochs per layer, 70 s "
        "on 2 threads) lifted the same 50 epochs to 23.59 dB, at least 1.28 dB above the plain net at every epoch "
        "(docs/study/pilots), so the recipe pre-trains.")),
    Recipe("shallow", epochs=(2, 20, 40), batch_size=64, lr=2e-3, evidence=(
        "One hidden layer trains fast: 1.7–3.7 CPU s per epoch. The sigmoid 784-32-784 (BCE) pilot (Adam 1e-3, batch "
        "128, cosine over 30 epochs) sat on the mean-image plateau (11.7 dB) for 4 epochs, then climbed to 14.6 dB "
        "by epoch 24 and stopped there.")),
    Recipe("overcomplete", epochs=(1, 8, 20), seeds=(1, 1, 1), evidence=(
        "The 1156-unit nets cost 11–15 CPU s per epoch each and there are six; the sparsity of the code is set "
        "within the first epochs (its curve is flat after that).")),
    Recipe("denoiser", epochs=(2, 12, 25), batch_size=64, lr=2e-3),
    Recipe("manifold", epochs=(2, 30, 60), batch_size=64, lr=2e-3),
    Recipe("conv", epochs=(1, 15, 25), batch_size=64, lr=2e-3, seeds=(1, 1, 1), images=20_000, evidence=(
        "Conv nets cost 18–22 CPU s per 55,000 images on one thread: 20,000 images at the default level.")),
    Recipe("vae", epochs=(2, 30, 60), seeds=(1, 1, 1)),
    Recipe("cnn", epochs=(1, 5, 10), seeds=(1, 1, 1)),
)}

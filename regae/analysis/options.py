"""What the analysis commands (``regae report``, ``compare``, ``finetune``) take from the command line, validated once.

Kept free of torch so that ``--help`` and every option error answer at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from regae.errors import ConfigError


@dataclass
class ReportConfig:
    """Sizes of the analyses (defaults sized to take a few minutes on a 2-core CPU)."""

    n_tsne: int = 2000  # test images in the t-SNE (~30 s of CPU per AE)
    n_pairs: int = 20  # interpolation pairs
    n_probe_train: int = 60000  # training images the classifiers are fitted on (all of MNIST's)
    n_reg: int = 256  # test images for the regularizer values (exact Jacobian: d VJPs each)
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("n_tsne", "n_pairs", "n_probe_train", "n_reg"):
            if getattr(self, name) < 1:
                raise ConfigError(f"Expected `{name}` >= 1, got {getattr(self, name)}.")
        if self.n_tsne < 50:
            raise ConfigError(f"Expected `n_tsne` >= 50 (t-SNE needs a few points per class), got {self.n_tsne}.")


def run_name(path: Path) -> str:
    """A checkpoint's short name: its run folder (``runs/sparse/checkpoints/last.ckpt`` -> ``sparse``), else its stem."""
    return path.parent.parent.name if path.parent.name == "checkpoints" and path.parent.parent.name else path.stem


def parse_ckpt_args(args: list[str]) -> dict[str, list[Path]]:
    """['sparse=runs/a.ckpt', 'sparse=runs/b.ckpt', 'runs/contractive/checkpoints/last.ckpt'] -> {name: [paths]}.

    The same ``NAME=`` given several times names several training seeds of one AE (they are
    averaged and compared as one). Without ``NAME=``, the name is the run folder (the parent of
    ``checkpoints/``) or the file stem, and a repeated derived name gets a ``-2``, ``-3`` suffix.
    """
    named: dict[str, list[Path]] = {}
    for arg in args:
        name, sep, path = arg.partition("=")
        if not sep or "/" in name or not name:
            name, path = "", arg
        p = Path(path)
        if name:
            named.setdefault(name, []).append(p)
            continue
        name = run_name(p)
        base, k = name, 2
        while name in named:
            name, k = f"{base}-{k}", k + 1
        named[name] = [p]
    return named


#: ``regae finetune``'s rate when none is given, per optimizer (regae.model.optimizers.OPTIMIZERS names them)
DEFAULT_LR = {"adam": 1e-3, "sgd": 0.1, "adadelta": 1.0}
#: regae.model.schedule.SCHEDULES, named here without importing the model (torch)
LR_SCHEDULES = ("constant", "cosine")


@dataclass
class FinetuneConfig:
    """How ``regae finetune`` trains the encoder + softmax layer (defaults: a few CPU minutes per MNIST epoch).

    ``lr`` None: the optimizer's default in :data:`DEFAULT_LR`; ``momentum``: SGD's (others have none);
    ``train_images`` None: the whole training split; ``threads`` None: the cores other processes leave
    free (:class:`~regae.training.core_share.CoreShare`), a number fixes it. Messages name the command's options.
    """

    epochs: int = 10
    lr: float | None = None
    batch_size: int = 128
    optimizer: str = "adam"
    momentum: float = 0.9
    lr_schedule: str = "cosine"
    freeze_encoder: bool = False
    train_images: int | None = None
    seed: int = 0
    device: str = "auto"
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.optimizer not in DEFAULT_LR:
            raise ConfigError(f"Expected --optimizer in {sorted(DEFAULT_LR)}, got {self.optimizer!r}.")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"Expected --lr-schedule in {list(LR_SCHEDULES)}, got {self.lr_schedule!r}.")
        if self.lr is None:
            self.lr = DEFAULT_LR[self.optimizer]
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"Expected --lr finite and > 0, got {self.lr}.")
        if not (math.isfinite(self.momentum) and self.momentum >= 0):
            raise ConfigError(f"Expected --momentum finite and >= 0, got {self.momentum}.")
        for name in ("epochs", "batch_size", "train_images", "threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"Expected --{name.replace('_', '-')} >= 1, got {value}.")

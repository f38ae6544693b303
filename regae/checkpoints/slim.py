"""Weights-only copies of checkpoints: enough to load, report and serve, not to resume training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from regae.checkpoints.read import read_checkpoint
from regae.checkpoints.write import atomic_save
from regae.data.record import DATAMODULE_KEY, RECORD_KEY
from regae.model.autoencoder import CHECKPOINT_KEY, AutoEncoder
from regae.model.classifier import EncoderClassifier

#: what a weights-only copy keeps: enough for ``load``, ``load_data`` and the report's budget table
WEIGHTS_ONLY_KEYS = ("state_dict", "hyper_parameters", "datamodule_hyper_parameters", CHECKPOINT_KEY, DATAMODULE_KEY,
                     "global_step", "epoch", "pytorch-lightning_version")


def save_weights_only(src: str | Path, dst: str | Path) -> Path:
    """Copy checkpoint ``src`` to ``dst`` without optimizer, scheduler and loop state (about a third
    of the size for Adam): it still loads with :func:`regae.load` and reports, but cannot resume training."""
    ckpt = read_checkpoint(src)
    return atomic_save({k: ckpt[k] for k in WEIGHTS_ONLY_KEYS if k in ckpt}, dst)


def save_model(model: AutoEncoder | EncoderClassifier, path: str | Path,
               record: dict[str, Any] | None = None) -> Path:
    """A weights-only checkpoint of ``model`` written without a Trainer (the study's cache and figures,
    ``regae finetune``'s classifier): weights, hyperparameters, regae's entry (which kind of model) and,
    given ``record``, the dataset record where a data module puts it (:mod:`regae.data.record`).
    :func:`regae.load` reads an autoencoder's like any other; :meth:`EncoderClassifier.from_checkpoint`
    a classifier's."""
    ckpt: dict[str, Any] = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                            "pytorch-lightning_version": pl.__version__}
    model.on_save_checkpoint(ckpt)
    if record is not None:
        ckpt[DATAMODULE_KEY] = {RECORD_KEY: dict(record)}
    return atomic_save(ckpt, path)

"""A classifier on an autoencoder's encoder: the fine-tuning step of unsupervised pre-training.

The encoder of a trained :class:`~regae.model.autoencoder.AutoEncoder` gets a softmax layer on
its code, and the whole network is trained with labels (Hinton & Salakhutdinov 2006; Rifai et
al. 2011; Vincent et al. 2010)::

    p(y | x) = softmax(V h(x) + c),   h = the encoder (pre-trained weights),   loss = −log p(y | x)

The classifier is described by the autoencoder's hyperparameters (``autoencoder``: the
encoder's architecture) plus its own, so a checkpoint alone rebuilds it;
:meth:`EncoderClassifier.from_autoencoder` copies a trained encoder's weights in. Trained like
every regae model, by :func:`regae.training.trainer.make_trainer` on an
:class:`~regae.data.datamodule.ImageDataModule` (its batches carry the labels).
"""

from __future__ import annotations

import copy
from functools import partial
from typing import Any, Literal

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from regae.data.record import checkpoint_record
from regae.errors import CheckpointError, ConfigError
from regae.model.autoencoder import CHECKPOINT_KEY, AutoEncoder
from regae.model.optimizers import check_optimizer, make_optimizer
from regae.model.schedule import check_schedule, lr_factor
from regae.version import __version__

KIND = "classifier"  # regae's entry in a checkpoint says which kind of model it holds


class EncoderClassifier(pl.LightningModule):
    """``encoder`` + a linear softmax layer, trained with cross-entropy; logs ``{stage}/loss``, ``{stage}/acc``.

    Args:
        autoencoder: the :class:`AutoEncoder` keyword arguments whose encoder this classifier
            uses (its weights come from :meth:`from_autoencoder`, or start at random).
        num_classes: outputs of the softmax layer.
        optimizer, lr, momentum, weight_decay, lr_schedule, warmup, lr_floor: as the AutoEncoder's.
        freeze_encoder: train only the softmax layer (a linear probe of the codes).
    """

    def __init__(
        self,
        autoencoder: dict[str, Any] | None = None,
        num_classes: int = 10,
        optimizer: Literal["adam", "adadelta", "sgd"] = "sgd",
        lr: float = 0.1,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        lr_schedule: Literal["constant", "cosine"] = "constant",
        warmup: float = 0.0,
        lr_floor: float = 0.0,
        freeze_encoder: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ConfigError(f"Expected `num_classes` >= 2, got {num_classes!r}.")
        check_optimizer(optimizer, lr, weight_decay, momentum)
        check_schedule(lr_schedule, warmup, lr_floor)
        ae = AutoEncoder(**(autoencoder or {}))
        self.encoder = ae.net.encoder
        self.latent_dim, self.input_shape = ae.latent_dim, ae.input_shape
        self.head = nn.Linear(self.latent_dim, num_classes)
        if freeze_encoder:
            self.encoder.requires_grad_(False)
        #: the record of the data it was fine-tuned on (:meth:`from_checkpoint` reads it from a checkpoint that
        #: :func:`regae.checkpoints.slim.save_model` wrote with one); None for a fresh model
        self.data_record: dict[str, Any] | None = None

    @classmethod
    def from_autoencoder(cls, model: AutoEncoder, **kwargs: Any) -> EncoderClassifier:
        """A classifier whose encoder starts as a copy of ``model``'s (the pre-trained weights)."""
        hparams = {k: v for k, v in model.hparams.items() if not k.startswith("_")}
        clf = cls(autoencoder=hparams, **kwargs)
        clf.encoder.load_state_dict(copy.deepcopy(model.net.encoder.state_dict()))
        return clf

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any]) -> EncoderClassifier:
        """The classifier a checkpoint dict describes, with its weights (train mode, on the CPU)."""
        entry = ckpt.get(CHECKPOINT_KEY) or {}
        if entry.get("kind") != KIND:
            raise CheckpointError(f"not a regae classifier checkpoint (kind {entry.get('kind', 'autoencoder')!r})")
        model = cls(**{k: v for k, v in ckpt["hyper_parameters"].items() if not k.startswith("_")})
        model.load_state_dict(ckpt["state_dict"])
        model.data_record = checkpoint_record(ckpt)
        return model

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[CHECKPOINT_KEY] = {"version": __version__, "kind": KIND}

    def forward(self, x: Tensor) -> Tensor:
        """Logits (B, num_classes) of images x (B, C, H, W)."""
        return self.head(self.encoder(x))  # encoder: (B, d)

    def _shared_step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        x, y = batch  # (B, C, H, W), (B,)
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        acc = (logits.argmax(1) == y).float().mean()
        on_step = stage == "train"
        self.log(f"{stage}/loss", loss.detach(), on_step=on_step, on_epoch=not on_step, sync_dist=not on_step)
        self.log(f"{stage}/acc", acc, on_step=on_step, on_epoch=not on_step, sync_dist=not on_step,
                 prog_bar=stage == "val")
        return loss

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "test")

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        kwargs: dict[str, Any] = {"lr": hp.lr, "weight_decay": hp.weight_decay}
        if hp.optimizer == "sgd":
            kwargs["momentum"] = hp.momentum
        optimizer = make_optimizer(hp.optimizer, [p for p in self.parameters() if p.requires_grad], **kwargs)
        if hp.lr_schedule == "constant":
            return optimizer
        total = int(self.trainer.estimated_stepping_batches)
        factor = partial(lr_factor, total=total, name=hp.lr_schedule, warmup=hp.warmup, floor=hp.lr_floor)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

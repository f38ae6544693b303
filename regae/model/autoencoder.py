"""The AutoEncoder LightningModule: reconstruction loss + weighted regularizers.

``__init__`` builds (and validates) everything from plain values, so a checkpoint's
hyperparameters alone rebuild the model; ``_shared_step`` computes the loss once and the
``*_step`` hooks only log.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.image import PeakSignalNoiseRatio

from regae.data.corrupt import Corruption
from regae.data.record import checkpoint_record
from regae.errors import CheckpointError, ConfigError, NonFiniteLossError
from regae.model.layout import CHANNELS_LAST, match_param_layouts, wants_channels_last
from regae.model.optimizers import check_optimizer, make_optimizer
from regae.model.schedule import check_schedule, lr_factor
from regae.nets import AEOutput, build_net
from regae.nets.codes import TopK, active_units, sparse_code
from regae.regularizers import build_regularizers
from regae.version import __version__

CHECKPOINT_KEY = "regae"  # the model's own entry in a checkpoint: version and loss history


class AutoEncoder(pl.LightningModule):
    """A regularized autoencoder on images of shape ``input_shape`` (default MNIST's 1x28x28).

    Args:
        arch: architecture name: ``unet`` (U-Net without skips), ``mlp``, ``conv`` or ``vae``.
        latent_dim: size d of the flat latent (default per architecture: 32; conv: 144).
        widths: channels (unet/conv, three levels) or encoder hidden widths (mlp).
        decoder_widths: mlp decoder hidden widths (default: ``widths`` reversed).
        decoder: conv decoder: ``unpool``, ``deconv`` or ``both``.
        latent_activation: ``sigmoid``, ``relu`` or ``none`` on the latent, or a sparse code that sets L0
            directly: ``topk:K`` (options ``alpha=A``, ``start=K0``, ``anneal=F``) or ``batch_topk:K``
            (:mod:`regae.nets.codes`).
        loss: reconstruction loss ``mse`` or ``bce`` (mean over pixels).
        regularizers: weighted penalties, e.g. ``[{name: contractive, weight: 1e-4, mode: exact}]``;
            names: l1, kl (rho), contractive (mode exact|hutchinson|closed_form, probes,
            chunk_size (auto), samples (exact on a random m-subset of the batch), reuse_forward),
            weight_decay, vae_kl.
        corrupt: denoising input corruption ``kind:level`` (gaussian, salt_and_pepper,
            masking), applied to training inputs; the loss is taken against the clean image.
        optimizer: ``adam``, ``adadelta`` or ``sgd``.
        lr: learning rate.
        weight_decay: the optimizer's (decoupled-from-loss) weight decay.
        momentum: SGD momentum.
        lr_schedule: ``constant`` or ``cosine`` (linear warm-up, then cosine decay to
            ``lr_floor · lr`` at the last step; see :mod:`regae.model.schedule`), stepped per batch.
        warmup: fraction of the training steps spent warming up (cosine only).
        lr_floor: final rate as a fraction of ``lr`` (cosine only).
        seed: seed of the per-step noise (corruption, Hutchinson probes); a resumed run draws
            the same noise as an uninterrupted one.
        history_every: record the training loss every this many steps (kept in the checkpoint).
        input_shape: (C, H, W) of the images; ``regae fit`` sets it from the data
            (``--data.dataset``), and checkpoints keep it so :func:`regae.load` rebuilds the net.
        tied: the decoder of a one-layer ``mlp`` reuses the encoder's weight, transposed
            (:class:`regae.nets.mlp.TiedDecoder`; the classical AE of the CAE and DAE papers).
        hidden_activation: ``relu`` or ``sigmoid`` between an ``mlp``'s hidden layers (logistic units,
            as in Hinton & Salakhutdinov 2006).
    """

    def __init__(
        self,
        arch: Literal["unet", "mlp", "conv", "vae"] = "unet",
        latent_dim: int | None = None,
        widths: list[int] | None = None,
        decoder_widths: list[int] | None = None,
        decoder: Literal["unpool", "deconv", "both"] = "unpool",
        latent_activation: str = "sigmoid",
        loss: Literal["mse", "bce"] = "mse",
        regularizers: list[dict[str, Any]] | None = None,
        corrupt: str | None = None,
        optimizer: Literal["adam", "adadelta", "sgd"] = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        lr_schedule: Literal["constant", "cosine"] = "constant",
        warmup: float = 0.0,
        lr_floor: float = 0.0,
        seed: int = 0,
        history_every: int = 10,
        input_shape: tuple[int, int, int] = (1, 28, 28),
        tied: bool = False,
        hidden_activation: Literal["relu", "sigmoid"] = "relu",
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if loss not in ("mse", "bce"):
            raise ConfigError(f"Expected `loss` in ['bce', 'mse'], got {loss!r}.")
        check_optimizer(optimizer, lr, weight_decay, momentum)
        check_schedule(lr_schedule, warmup, lr_floor)
        if history_every < 1:
            raise ConfigError(f"Expected `history_every` >= 1, got {history_every}.")
        self.net = build_net(
            arch, latent_dim=latent_dim, widths=widths, decoder_widths=decoder_widths,
            decoder=decoder, latent_activation=latent_activation, input_shape=input_shape, tied=tied,
            hidden_activation=hidden_activation,
        )
        self.regularizers = build_regularizers(regularizers)
        self._code = sparse_code(self.net)  # topk / batch_topk latent, or None
        self._total_steps = 1
        for reg in self.regularizers:
            reg.check(self.net, latent_activation)
        try:
            self.corruption = Corruption.parse(corrupt) if corrupt else None
        except ConfigError as exc:  # name the option: the parser's message only names the kind
            raise ConfigError(f"`corrupt`={corrupt!r}: {exc}") from None
        self.val_psnr = PeakSignalNoiseRatio(data_range=1.0)
        self.test_psnr = PeakSignalNoiseRatio(data_range=1.0)
        self.loss_history: list[tuple[int, float]] = []  # (global step, training loss)
        self._memory_format: torch.memory_format | None = None  # channels-last once setup() chose it
        #: the record of the data it was trained on, set by :func:`regae.load` from the checkpoint
        #: (written there by the data module, :mod:`regae.data.record`); None for a fresh model
        self.data_record: dict[str, Any] | None = None

    # -- model ---------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.net.latent_dim

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) the net was built for."""
        return self.net.input_shape

    def forward(self, x: Tensor) -> AEOutput:
        return self.net(x)

    def encode(self, x: Tensor) -> Tensor:
        return self.net.encode(x)

    def decode(self, h: Tensor) -> Tensor:
        return self.net.decode(h)

    def reconstruction_loss(self, x_hat: Tensor, x: Tensor) -> Tensor:
        if self.hparams.loss == "bce":
            return F.binary_cross_entropy(x_hat.clamp(1e-7, 1 - 1e-7), x)
        return F.mse_loss(x_hat, x)

    # -- layout: channels-last conv nets on the CPU (regae.model.layout) ------------
    def setup(self, stage: str) -> None:
        if wants_channels_last(self.net, self.trainer.strategy.root_device):
            self.net.to(memory_format=CHANNELS_LAST)  # before DDP wraps it and the optimizer sees it
            self._memory_format = CHANNELS_LAST

    def on_train_start(self) -> None:
        for optimizer in self.trainer.optimizers:  # restored from a checkpoint by now
            match_param_layouts(optimizer)
        self._total_steps = int(self.trainer.estimated_stepping_batches)  # a topk code's K schedule runs over it

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        if isinstance(self._code, TopK):  # K of this step: a function of the step alone, so a resumed run repeats it
            self._code.set_step(self.global_step, self._total_steps)

    # -- steps ---------------------------------------------------------------
    def step_generator(self) -> torch.Generator:
        """Noise source for this step: a function of (seed, global step, rank) only."""
        seed = (self.hparams.seed * 1_000_003 + self.global_step) * 131 + self.global_rank
        return torch.Generator(device=self.device).manual_seed(seed)

    def _shared_step(self, batch: tuple[Tensor, Tensor], stage: str) -> tuple[Tensor, AEOutput, dict[str, Tensor]]:
        x, _ = batch  # (B, C, H, W)
        if self._memory_format is not None:
            x = x.contiguous(memory_format=self._memory_format)
        training = stage == "train"
        gen = self.step_generator() if training else None
        x_in = self.corruption(x, gen) if (training and self.corruption is not None) else x
        regs = self.regularizers if training else []
        if any(r.needs_input_grad for r in regs):
            x_in = x_in.detach().requires_grad_(True)
        out = self.net(x_in, generator=gen)  # the VAE's sampling noise comes from the step's generator too
        terms = {"recon": self.reconstruction_loss(out.x_hat, x)}
        loss = terms["recon"]
        for reg in regs:
            terms[f"reg/{reg.name}"] = reg.from_output(self.net, x_in, out, gen)
            loss = loss + reg.weight * terms[f"reg/{reg.name}"]
        terms["loss"] = loss
        return loss, out, terms

    def _check_finite(self, terms: dict[str, Tensor]) -> None:
        if torch.isfinite(terms["loss"]):
            return
        bad = [k for k, v in terms.items() if k != "loss" and not torch.isfinite(v)] or ["loss"]
        raise NonFiniteLossError(
            f"training stopped at step {self.global_step} (epoch {self.current_epoch}): "
            f"non-finite {', '.join(bad)} ({', '.join(f'{k}={terms[k].item():g}' for k in bad)}); "
            "lower the learning rate or the regularizer weights"
        )

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss, out, terms = self._shared_step(batch, "train")
        self._check_finite(terms)
        if self.global_step % self.hparams.history_every == 0:
            self.loss_history.append((self.global_step, loss.item()))
        if self._logs_written_this_step():
            self.log_dict({f"train/{k}": v.detach() for k, v in terms.items()}, prog_bar=False)
            self.log("train/l0", active_units(out.h.detach(), self.hparams.latent_activation).sum(1).float().mean())
            self.log("loss", loss.detach(), prog_bar=True, logger=False)
        return loss

    def _logs_written_this_step(self) -> bool:
        """Whether the loggers write this step's values: every ``trainer.log_every_n_steps``
        steps (Lightning's own schedule), the last batch of an epoch and the last step.

        ``self.log`` costs about as much as the rest of Lightning's per-step work together
        (benchmarks/README.md), and on the other steps its value would never reach a logger;
        the progress bar and ``callback_metrics`` show the value of the last logged step.
        """
        trainer = self._trainer
        if trainer is None:
            return True
        every, step = trainer.log_every_n_steps, self.global_step + 1  # the step being computed, 1-based
        return (
            (every > 0 and step % every == 0) or step == 1 or step == trainer.max_steps
            or trainer.is_last_batch or trainer.fast_dev_run
        )

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        loss, out, _ = self._shared_step(batch, "val")
        self.val_psnr(out.x_hat, batch[0])
        self.log("val/loss", loss, sync_dist=True)
        self.log("val/psnr", self.val_psnr, prog_bar=True)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        loss, out, _ = self._shared_step(batch, "test")
        self.test_psnr(out.x_hat, batch[0])
        self.log("test/loss", loss, sync_dist=True)
        self.log("test/psnr", self.test_psnr)

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        kwargs: dict[str, Any] = {"lr": hp.lr, "weight_decay": hp.weight_decay}
        if hp.optimizer == "sgd":
            kwargs["momentum"] = hp.momentum
        optimizer = make_optimizer(hp.optimizer, list(self.parameters()), **kwargs)
        if hp.lr_schedule == "constant":
            return optimizer
        total = int(self.trainer.estimated_stepping_batches)  # the whole run (max_steps or max_epochs)
        factor = partial(lr_factor, total=total, name=hp.lr_schedule, warmup=hp.warmup, floor=hp.lr_floor)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # -- checkpoint ----------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The model's own entry; the data module writes the data's record (:mod:`regae.data.record`)."""
        checkpoint[CHECKPOINT_KEY] = {"version": __version__, "loss_history": list(self.loss_history)}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._check_weights_fit(checkpoint.get("state_dict", {}), checkpoint.get("hyper_parameters", {}),
                                checkpoint_record(checkpoint))
        self.loss_history = [tuple(p) for p in checkpoint.get(CHECKPOINT_KEY, {}).get("loss_history", [])]

    def _check_weights_fit(self, state: dict[str, Any], hparams: dict[str, Any], data: dict | None = None) -> None:
        """Raise CheckpointError (not torch's RuntimeError) if ``state`` was made by another architecture."""
        own = self.state_dict()
        wrong = sorted(set(own) ^ set(state)) + [k for k in own if k in state and own[k].shape != state[k].shape]
        if wrong:
            made_by = ", ".join(f"{k}={hparams[k]}" for k in ("arch", "latent_dim", "widths", "input_shape") if k in hparams)
            if data:
                made_by += f"{', ' if made_by else ''}data {data.get('dataset')}"
            raise CheckpointError(
                f"checkpoint weights do not fit this model ({len(wrong)} tensors differ, e.g. {wrong[0]}); "
                f"it was trained with {made_by or 'other settings'}: pass the same model and data options (or its config.yaml)"
            )

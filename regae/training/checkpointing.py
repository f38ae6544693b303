"""The checkpoint callback that makes ``regae fit ... --ckpt_path last`` lose nothing.

Resuming: rerun the same command with ``--ckpt_path last``. Lightning then restores
``<default_root_dir>/checkpoints/last.ckpt`` (weights, optimizer, global step, epoch and
the training loader's position inside the epoch) or, when there is none yet, warns and
starts from scratch, so the one command serves the first run and every rerun after a kill.
The batches after the checkpoint are those an uninterrupted run would have seen: the
epoch order is a function of (shuffle_seed, epoch) and
:class:`~regae.data.loader.TensorBatchLoader` saves how many batches of the epoch it has
handed out; per-step noise is keyed by (seed, global step) (``AutoEncoder.step_generator``).

Lightning's ``ModelCheckpoint`` with ``every_n_train_steps=N`` writes ``last.ckpt`` only
at multiples of N, and at the end of training only when it never saved at all, so a run
that stops at ``max_steps`` (or at the end of an epoch) between two multiples of N leaves
its final steps out of ``last.ckpt``. :class:`RegaeCheckpoint` writes ``last.ckpt`` once
more when training ends normally at a step it has not saved. With
``save_on_exception=True`` it still never saves on :class:`~regae.errors.NonFiniteLossError`:
the weights that produced a NaN/inf loss must not replace the last good ``last.ckpt``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint

from regae.errors import NonFiniteLossError


class RegaeCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` whose ``last.ckpt`` always holds the final step of a finished fit.

    ``resuming`` is set by whoever starts a fit from a checkpoint (``regae fit --ckpt_path``,
    :func:`regae.training.fit.fit`): Lightning sets ``trainer.ckpt_path`` only after ``setup``, and
    a resumed run's folder holds its own checkpoints, as it should, so no "not empty" warning then.
    """

    resuming: bool = False

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not (self.resuming or trainer.ckpt_path):
            return super().setup(trainer, pl_module, stage)
        with warnings.catch_warnings():  # resuming: the folder holds this run's own checkpoints, as it should
            warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty",
                                    module=r"lightning\.pytorch\.callbacks\.model_checkpoint")
            return super().setup(trainer, pl_module, stage)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        if (
            self.save_last
            and not trainer.fast_dev_run
            and not trainer.interrupted
            and self._last_global_step_saved != trainer.global_step
        ):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def save_now(self, trainer: pl.Trainer) -> Path:
        """Write ``last.ckpt`` at this step, between two steps (Ctrl-C: :mod:`regae.training.interrupt`), and
        remember it, so the end of training does not write it again over a state in which the stop counted
        as the epoch's end (a resume would then skip the rest of the epoch)."""
        self._save_checkpoint(trainer, str(Path(self.dirpath) / f"{self.CHECKPOINT_NAME_LAST}{self.FILE_EXTENSION}"))
        return Path(self.dirpath) / f"{self.CHECKPOINT_NAME_LAST}{self.FILE_EXTENSION}"

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, NonFiniteLossError):
            super().on_exception(trainer, pl_module, exception)

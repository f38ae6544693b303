"""``regae fit|validate|test|predict``: LightningCLI over :class:`AutoEncoder` and :class:`ImageDataModule`.

The only part of the command line that imports Lightning. :mod:`regae.cli` dispatches here (by
name, so ``regae --help`` loads no torch) after :mod:`regae.configs.preflight` has checked what it can
without Lightning. The Trainer comes from :func:`regae.training.trainer.make_trainer`, like every
other run's; a parse error is one :class:`~regae.errors.ConfigError` line.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from regae.checkpoints.read import load as load_checkpoint
from regae.checkpoints.write import check_writable
from regae.data.datamodule import ImageDataModule
from regae.errors import ConfigError, OutputError
from regae.model.autoencoder import AutoEncoder
from regae.training.checkpointing import RegaeCheckpoint
from regae.training.interrupt import SaveOnInterrupt
from regae.training.noise import third_party_noise
from regae.training.trainer import DEFAULTS, make_trainer

#: what ``regae fit`` saves by default: last.ckpt always, plus the newest numbered one
CHECKPOINT_DEFAULTS = {
    "checkpoint.save_last": True,
    "checkpoint.filename": "epoch{epoch:03d}-step{step:06d}",
    "checkpoint.auto_insert_metric_name": False,
    "checkpoint.save_top_k": 1,
    "checkpoint.monitor": None,
    "checkpoint.enable_version_counter": False,  # a rerun in the same dir overwrites last.ckpt
}


class RegaeCLI(LightningCLI):
    """LightningCLI with a checkpoint callback under ``<default_root_dir>/checkpoints`` and regae's Trainer.

    Checkpoints are written atomically and a killed ``fit`` resumes with the same command plus
    ``--ckpt_path last`` (see :mod:`regae.training.checkpointing`). ``extra_callbacks`` are added
    and ``extra_plugins`` to every Trainer this CLI builds (``launch/`` passes its run recorder, its
    signal handler and Slurm's cluster environment).
    """

    def __init__(self, *args: Any, extra_callbacks: list[Callback] | None = None, extra_plugins: list[Any] | None = None,
                 **kwargs: Any) -> None:
        self.extra_callbacks = list(extra_callbacks or [])
        self.extra_plugins = list(extra_plugins or [])
        super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(RegaeCheckpoint, "checkpoint")
        parser.set_defaults(CHECKPOINT_DEFAULTS)
        parser.link_arguments(
            "trainer.default_root_dir", "checkpoint.dirpath",
            compute_fn=lambda root: os.path.join(root or ".", "checkpoints"),
        )
        # the net is built for the data's (C, H, W): the data module reads its dataset when it is made
        parser.link_arguments("data.input_shape", "model.input_shape", apply_on="instantiate")

    def _parse_ckpt_path(self) -> None:
        """Check ``--ckpt_path`` (exists, complete, a regae checkpoint, no code) before Lightning
        unpickles it to read its hyperparameters, so a bad file is one CheckpointError line."""
        sub = self.config.get("subcommand")
        path = self.config[sub].get("ckpt_path") if sub else None
        if path and path not in ("last", "best", "hpc") and "://" not in str(path) and not str(path).startswith("registry"):
            load_checkpoint(path)  # weights_only read + rebuild from its hyperparameters
        super()._parse_ckpt_path()

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Callback]) -> Trainer:
        """Lightning's callback merging (``--trainer.callbacks``, the checkpoint callback, the config
        saver), then :func:`make_trainer` instead of ``Trainer(**config)``."""
        own = config.pop("callbacks", None) or []
        own = list(own) if isinstance(own, (list, tuple)) else [own]
        own += [*callbacks, *self.extra_callbacks]
        if self.save_config_callback and not config.get("fast_dev_run", False):
            own.append(self.save_config_callback(self._parser(self.subcommand),
                                                 self.config.get(str(self.subcommand), self.config),
                                                 **self.save_config_kwargs))
        plugins = config.pop("plugins", None) or []
        plugins = [*(plugins if isinstance(plugins, (list, tuple)) else [plugins]), *self.extra_plugins]
        return make_trainer(callbacks=own, plugins=plugins or None, **config)

    def before_fit(self) -> None:
        """Check that the run's folder can be written (one line now, not a traceback at the first
        checkpoint), and tell the checkpoint callback whether this fit resumes (:class:`RegaeCheckpoint`)."""
        check_writable(self.trainer.default_root_dir, "checkpoints and logs")
        resume_from(self.trainer, self.config[str(self.subcommand)].get("ckpt_path"))

    def after_fit(self) -> None:
        """Report the test PSNR of the trained weights (as they are at the end of fit); after a
        Ctrl-C, say where it stopped instead (:mod:`regae.training.interrupt`)."""
        interrupted = next((c.error() for c in self.trainer.callbacks if isinstance(c, SaveOnInterrupt)), None)
        if interrupted is not None:
            raise interrupted
        if self.trainer.state.stage is not None and self.trainer.interrupted:
            return
        self.trainer.test(self.model, datamodule=self.datamodule, verbose=True)


def resume_from(trainer: Trainer, ckpt_path: str | None) -> None:
    """Mark ``trainer``'s :class:`RegaeCheckpoint` as resuming when ``ckpt_path`` is given."""
    for callback in trainer.callbacks:
        if isinstance(callback, RegaeCheckpoint):
            callback.resuming = bool(ckpt_path)


def cli_kwargs(descriptions: dict[str, str] | None = None, overview: str = "") -> dict[str, Any]:
    """The LightningCLI arguments every regae use of it shares (``regae fit``, compare, launch)."""
    parser_kwargs: dict[str, Any] = {"exit_on_error": False}  # a parse error raises (one line) instead of exiting
    if descriptions is not None:
        parser_kwargs = {"description": overview, "exit_on_error": False}
        parser_kwargs.update({c: {"description": descriptions.get(c, c), "exit_on_error": False}
                              for c in LightningCLI.subcommands()})
    return {"seed_everything_default": 0, "save_config_kwargs": {"overwrite": True},
            "trainer_defaults": dict(DEFAULTS), "parser_kwargs": parser_kwargs}


def run_trainer_cli(argv: list[str], extra_callbacks: list[Callback] | None = None, extra_plugins: list[Any] | None = None,
                    descriptions: dict[str, str] | None = None, overview: str = "") -> None:
    """Run ``fit|validate|test|predict`` from ``argv`` (the command line after ``regae``).

    ``descriptions`` (subcommand -> help line) and ``overview`` are the help texts :mod:`regae.cli` owns.
    """
    with third_party_noise():
        try:
            RegaeCLI(AutoEncoder, ImageDataModule, args=argv, extra_callbacks=extra_callbacks, extra_plugins=extra_plugins,
                     **cli_kwargs(descriptions or {}, overview))
        except argparse.ArgumentError as exc:
            command = argv[0] if argv and argv[0] in LightningCLI.subcommands() else ""
            raise ConfigError(f"{one_line(str(exc))} (regae {command} --help lists every option)") from None
        except MisconfigurationException as exc:  # Lightning refusing a value: --trainer.max_epochs -5, ...
            raise ConfigError(one_line(str(exc))) from None
        except OSError as exc:
            if exc.filename is None:  # not about a file the run writes: a bug, keep the traceback
                raise
            raise OutputError(f"cannot write {exc.filename}: {exc.strerror or exc} (the last good checkpoint is "
                              "kept)") from None


def one_line(message: str) -> str:
    """jsonargparse's indented multi-line parse error as one line."""
    return " ".join(message.split())

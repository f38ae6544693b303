"""``regae fit|validate|test|predict``: LightningCLI over :class:`AutoEncoder` and :class:`ImageDataModule`.

The only part of the command line that imports Lightning; :mod:`regae.cli` imports it when
one of these commands runs, after :mod:`regae.preflight` has checked what it can without it.
"""

from __future__ import annotations

import argparse
import os
import sys

from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ProgressBar as BaseProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins import CheckpointIO

from regae.checkpoint import load as load_checkpoint
from regae.cli import TRAINER_COMMANDS, overview
from regae.cores import CoreShare
from regae.data.datamodule import ImageDataModule
from regae.errors import ConfigError
from regae.io import AtomicCheckpointIO
from regae.module import AutoEncoder
from regae.preflight import SUBCOMMANDS
from regae.progress import EpochSummary, ProgressBar
from regae.quiet import third_party_noise
from regae.resume import RegaeCheckpoint


class RegaeCLI(LightningCLI):
    """LightningCLI with a checkpoint callback under ``<default_root_dir>/checkpoints``.

    Checkpoints are written atomically (:class:`~regae.io.AtomicCheckpointIO`) and a killed
    ``fit`` resumes with the same command plus ``--ckpt_path last`` (see :mod:`regae.resume`).
    """

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(RegaeCheckpoint, "checkpoint")
        parser.set_defaults({
            "checkpoint.save_last": True,
            "checkpoint.filename": "epoch{epoch:03d}-step{step:06d}",
            "checkpoint.auto_insert_metric_name": False,
            "checkpoint.save_top_k": 1,
            "checkpoint.monitor": None,
            "checkpoint.enable_version_counter": False,  # a rerun in the same dir overwrites last.ckpt
        })
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

    def _instantiate_trainer(self, config: dict, callbacks: list) -> Trainer:
        plugins = config.get("plugins") or []
        plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
        if not any(isinstance(p, CheckpointIO) for p in plugins):  # atomic saves unless the user chose an IO
            config["plugins"] = [*plugins, AtomicCheckpointIO()]
        trainer_defaults = self.trainer_defaults
        if config.get("enable_progress_bar") is False:  # drop the default bar rather than fail
            bar_free = [c for c in trainer_defaults.get("callbacks", []) if not isinstance(c, BaseProgressBar)]
            self.trainer_defaults = {**trainer_defaults, "callbacks": bar_free}
        if config.get("enable_checkpointing") is False:  # no checkpoints asked for: drop regae's callback, not fail
            callbacks = [c for c in callbacks if not isinstance(c, RegaeCheckpoint)]
        try:
            return super()._instantiate_trainer(config, callbacks)
        finally:
            self.trainer_defaults = trainer_defaults

    def after_fit(self) -> None:
        """Report the test PSNR of the trained weights (as they are at the end of fit)."""
        if self.trainer.state.stage is not None and self.trainer.interrupted:
            return
        self.trainer.test(self.model, datamodule=self.datamodule, verbose=True)


def trainer_defaults(extra: dict | None = None) -> dict:
    """regae's Trainer defaults: the bar in a terminal, else one line per epoch; no summary table;
    on a shared CPU, threads for the cores other processes leave free (:class:`regae.cores.CoreShare`).

    ``extra`` adds or replaces defaults (``launch/`` passes Slurm plugins and its callbacks this
    way); its ``callbacks`` are added to regae's, and a progress bar among them replaces regae's.
    """
    defaults: dict = {
        "callbacks": [ProgressBar(refresh_rate=10), EpochSummary(), CoreShare()],
        "default_root_dir": "runs/default",
        "enable_progress_bar": sys.stdout.isatty(),  # Lightning's bar writes to stdout; a log gets epoch lines
        "enable_model_summary": False,  # EpochSummary prints a one-line summary instead
    }
    extra = dict(extra or {})
    theirs = list(extra.pop("callbacks", []))
    if any(isinstance(c, BaseProgressBar) for c in theirs):
        defaults["callbacks"] = [c for c in defaults["callbacks"] if not isinstance(c, BaseProgressBar)]
    defaults["callbacks"] += theirs
    return {**defaults, **extra}


def run_trainer_cli(argv: list[str], trainer_defaults_extra: dict | None = None) -> None:
    """Run fit/validate/test/predict with :func:`trainer_defaults` (``trainer_defaults_extra`` as its ``extra``)."""
    # a parse error raises (one line below) instead of printing the whole usage and exiting
    parser_kwargs: dict = {"description": overview(), "exit_on_error": False}
    parser_kwargs.update({c: {"description": TRAINER_COMMANDS.get(c, c), "exit_on_error": False} for c in SUBCOMMANDS})
    with third_party_noise():
        try:
            RegaeCLI(
                AutoEncoder,
                ImageDataModule,
                seed_everything_default=0,
                save_config_kwargs={"overwrite": True},
                trainer_defaults=trainer_defaults(trainer_defaults_extra),
                parser_kwargs=parser_kwargs,
                args=argv,
            )
        except argparse.ArgumentError as exc:
            command = argv[0] if argv and argv[0] in SUBCOMMANDS else ""
            raise ConfigError(f"{one_line(str(exc))} (regae {command} --help lists every option)") from None


def one_line(message: str) -> str:
    """jsonargparse's indented multi-line parse error as one line."""
    return " ".join(message.split())

"""Training from Python: a ``regae fit`` config resolved, validated and trained without a command line.

``regae compare`` and ``python -m launch`` describe runs the way ``regae fit`` does (a preset or
config file plus ``--model.* / --data.* / --trainer.* / --checkpoint.*`` overrides); here that
description is parsed by the same parser (:class:`~regae.training.lightning_cli.RegaeCLI`), so a
run trained from Python is the run ``regae fit`` would train, Trainer from
:func:`~regae.training.trainer.make_trainer` included::

    config = resolve(["--config", "/path/sparse.yaml", "--trainer.max_epochs", "6"])   # plain dict
    result = fit(config)                                                                 # trains, tests
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from lightning.pytorch.cli import LightningArgumentParser

from regae.checkpoints.write import atomic_write_text
from regae.configs import resolve_presets
from regae.configs.preflight import check_trainer_argv
from regae.data.datamodule import ImageDataModule
from regae.errors import ConfigError, RegaeError
from regae.model.autoencoder import AutoEncoder
from regae.training.interrupt import SaveOnInterrupt
from regae.training.lightning_cli import RegaeCLI, cli_kwargs, resume_from
from regae.training.noise import third_party_noise


class _ParseOnlyCLI(RegaeCLI):
    """``RegaeCLI`` that parses and builds model + data but no Trainer (no GPU needed to check a config)."""

    def instantiate_trainer(self, **kwargs: Any) -> None:
        return None


@contextlib.contextmanager
def _quiet_parse() -> Iterator[None]:
    seed_log = logging.getLogger("lightning.fabric.utilities.seed")
    level = seed_log.level
    seed_log.setLevel(logging.WARNING)  # "Seed set to 0" is noise here
    try:
        with warnings.catch_warnings():  # sys.argv is the caller's, the args are ours on purpose
            warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter.*")
            yield
    finally:
        seed_log.setLevel(level)


def build(args: list[str] | dict[str, Any], trainer: bool = True) -> RegaeCLI:
    """The CLI object with model, data module and (``trainer``) Trainer built from ``args``
    (``regae fit`` arguments without ``fit``, or a resolved config dict); ConfigError if they are invalid."""
    cls = RegaeCLI if trainer else _ParseOnlyCLI
    if isinstance(args, list):
        args = resolve_presets(args)
        check_trainer_argv(["fit", *args])  # names, YAML and classes checked as `regae fit` checks them
    try:
        with _quiet_parse():
            return cls(AutoEncoder, ImageDataModule, run=False, args=args, **cli_kwargs())
    except argparse.ArgumentError as exc:
        raise ConfigError(f"invalid training config: {' '.join(str(exc).split())}") from None
    except RegaeError as exc:
        raise ConfigError(f"invalid training config: {exc}") from None
    except (TypeError, ValueError) as exc:  # a class rejected a value jsonargparse let through
        raise ConfigError(f"invalid training config: {exc}") from None


def parse(args: list[str] | dict[str, Any]) -> tuple[LightningArgumentParser, Any]:
    """(parser, parsed config) of ``args``, model and data built once to check them."""
    cli = build(args, trainer=False)
    return cli.parser, cli.config


def resolve(args: list[str]) -> dict[str, Any]:
    """The full config (plain dict) that ``regae fit <args>`` would train with, validated."""
    parser, config = parse(args)
    return yaml.safe_load(parser.dump(config, skip_none=False))


def validate(config: dict[str, Any]) -> None:
    """Parse ``config`` again the way a job will (as a whole config) and build model + data."""
    parse(config)


def write_config(config: dict[str, Any], path: Path) -> None:
    """``config`` as the YAML file ``regae fit --config`` reads."""
    atomic_write_text(yaml.safe_dump(config, sort_keys=False), path)


@dataclass
class FitResult:
    checkpoint: Path | None  # <default_root_dir>/checkpoints/last.ckpt, if checkpoints were written
    global_step: int
    test_psnr: float | None  # dB, on the test split after training
    interrupted: bool


def fit(config: dict[str, Any] | list[str], ckpt_path: str | None = None) -> FitResult:
    """Train as ``regae fit`` would from ``config`` (a resolved dict or fit arguments), then test."""
    with third_party_noise():
        cli = build(config)
        trainer = cli.trainer
        resume_from(trainer, ckpt_path)
        trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=ckpt_path)
        stopped = next((c.error() for c in trainer.callbacks if isinstance(c, SaveOnInterrupt)), None)
        if stopped is not None:  # Ctrl-C: its step saved, nothing more to run
            raise stopped
        psnr = None
        if not trainer.interrupted:
            metrics = trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)
            psnr = float(metrics[0]["test/psnr"]) if metrics and "test/psnr" in metrics[0] else None
    ckpt = trainer.checkpoint_callback
    last = Path(ckpt.dirpath) / "last.ckpt" if ckpt is not None and ckpt.dirpath else None
    return FitResult(last if last is not None and last.is_file() else None, trainer.global_step, psnr,
                     trainer.interrupted)

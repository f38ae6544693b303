"""The ``regae`` command: LightningCLI for fit/validate/test, plus the analysis commands.

``--config NAME`` accepts a packaged preset name (see ``regae presets``) as well as a path.
A user mistake (``RegaeError``) is printed as one line and exits with status 2.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from pathlib import Path

from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ProgressBar, TQDMProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins import CheckpointIO

from regae.checkpoint import load as load_checkpoint
from regae.data.datamodule import MNISTDataModule
from regae.errors import RegaeError
from regae.io import AtomicCheckpointIO
from regae.module import AutoEncoder
from regae.resume import RegaeCheckpoint

PRESET_DIR = Path(__file__).with_name("configs")

#: command -> "module:function" taking argv; imported only when used.
EXTRA_COMMANDS: dict[str, tuple[str, str]] = {
    "compare": ("regae.analysis.commands:compare_main", "train sparse + contractive AEs, then write the report"),
    "report": ("regae.analysis.commands:report_main", "analyse checkpoints: t-SNE, interpolation, classifiers"),
    "study": ("regae.study.commands:study_main", "run the wider autoencoder study experiments"),
    "presets": ("regae.cli:presets_main", "list the packaged --config presets"),
}
TRAINER_COMMANDS = {
    "fit": "train a model (e.g. regae fit --config contractive)",
    "validate": "evaluate a checkpoint on the validation split",
    "test": "evaluate a checkpoint on the test split (test PSNR)",
}


def presets() -> dict[str, Path]:
    return {p.stem: p for p in sorted(PRESET_DIR.glob("*.yaml"))}


def preset_summary(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    return first.lstrip("# ").strip() if first.startswith("#") else ""


def presets_main(argv: list[str]) -> int:
    """regae presets: list the packaged configs with their one-line descriptions."""
    for name, path in presets().items():
        print(f"{name:24s} {preset_summary(path)}")
    print(f"\n(files in {PRESET_DIR}; use with: regae fit --config NAME)")
    return 0


def resolve_presets(argv: list[str]) -> list[str]:
    """Replace ``--config NAME`` by the packaged preset's path when NAME is not a file."""
    known, out, i = presets(), [], 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--config", "-c") and i + 1 < len(argv):
            out += [arg, _preset_path(argv[i + 1], known)]
            i += 2
            continue
        if arg.startswith("--config="):
            arg = "--config=" + _preset_path(arg.split("=", 1)[1], known)
        out.append(arg)
        i += 1
    return out


def _preset_path(value: str, known: dict[str, Path]) -> str:
    if os.path.exists(value):
        return value
    name = value.removesuffix(".yaml")
    if name in known:
        return str(known[name])
    if "/" not in value and not value.endswith((".yaml", ".yml", ".json")):
        raise RegaeError(f"unknown preset {value!r}; presets: {', '.join(known)} (or give a config file path)")
    raise RegaeError(f"config file not found: {value}")


def overview() -> str:
    lines = ["usage: regae COMMAND [options]   (regae COMMAND --help for details)", "", "Training (LightningCLI):"]
    lines += [f"  {k:10s} {v}" for k, v in TRAINER_COMMANDS.items()]
    lines += ["", "Analysis and tools:"]
    lines += [f"  {k:10s} {v[1]}" for k, v in EXTRA_COMMANDS.items()]
    lines += ["", "Presets for --config (regae presets):"]
    lines += [f"  {name:24s} {preset_summary(p)}" for name, p in presets().items()]
    lines += ["", "Example: regae fit --config contractive --trainer.max_epochs 2"]
    return "\n".join(lines)


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
            bar_free = [c for c in trainer_defaults.get("callbacks", []) if not isinstance(c, ProgressBar)]
            self.trainer_defaults = {**trainer_defaults, "callbacks": bar_free}
        try:
            return super()._instantiate_trainer(config, callbacks)
        finally:
            self.trainer_defaults = trainer_defaults

    def after_fit(self) -> None:
        """Report the test PSNR of the trained weights (as they are at the end of fit)."""
        if self.trainer.state.stage is not None and self.trainer.interrupted:
            return
        self.trainer.test(self.model, datamodule=self.datamodule, verbose=True)


def run_trainer_cli(argv: list[str], trainer_defaults_extra: dict | None = None) -> None:
    """Run fit/validate/test; ``trainer_defaults_extra`` adds or replaces Trainer defaults
    (``launch/`` passes Slurm plugins and its callbacks this way)."""
    trainer_defaults = {"callbacks": [TQDMProgressBar(refresh_rate=10)], "default_root_dir": "runs/default"}
    trainer_defaults.update(trainer_defaults_extra or {})
    with warnings.catch_warnings():  # regae passes its own (preset-resolved) argv on purpose
        warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python")
        _run_cli(argv, trainer_defaults)


def _run_cli(argv: list[str], trainer_defaults: dict) -> None:
    RegaeCLI(
        AutoEncoder,
        MNISTDataModule,
        seed_everything_default=0,
        save_config_kwargs={"overwrite": True},
        trainer_defaults=trainer_defaults,
        parser_kwargs={"description": overview(), "fit": {"description": TRAINER_COMMANDS["fit"]}},
        args=argv,
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(overview())
        return 0
    try:
        if argv[0] in EXTRA_COMMANDS:
            module, func = EXTRA_COMMANDS[argv[0]][0].split(":")
            return int(getattr(importlib.import_module(module), func)(argv[1:]) or 0)
        run_trainer_cli(resolve_presets(argv))
    except RegaeError as exc:
        print(f"regae: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("regae: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Every ``regae`` command: name -> where it is implemented and what it does, and the overview text.

Implementations are named as ``"module:function"`` strings and imported only when their command
runs, so this table (and ``regae --help``) loads no torch. Each function takes the command's
arguments (the command line after the command's name) and returns an exit status.
"""

from __future__ import annotations

from typing import NamedTuple

from regae.configs import preset_summary, presets


class Command(NamedTuple):
    target: str  # "module:function"
    help: str


#: fit/validate/test: LightningCLI's subcommands (regae.training.lightning_cli)
TRAINER_COMMANDS: dict[str, str] = {
    "fit": "train a model (e.g. regae fit --config contractive)",
    "validate": "evaluate a checkpoint on the validation split",
    "test": "evaluate a checkpoint on the test split (test PSNR)",
}

COMMANDS: dict[str, Command] = {
    "compare": Command("regae.cli.report:compare_main", "train sparse + contractive AEs, then write the report"),
    "report": Command("regae.cli.report:report_main", "analyse checkpoints: t-SNE, interpolation, classifiers"),
    "finetune": Command("regae.cli.finetune:finetune_main",
                        "fine-tune an AE's encoder + a softmax layer with labels: test accuracy with its interval"),
    "check-rerun": Command("regae.cli.rerun:check_rerun_main",
                           "set a rerun's report beside a published one: each figure inside its 95 % interval?"),
    "study": Command("regae.cli.study:study_main", "run the wider autoencoder study experiments"),
    "reproduce": Command("regae.cli.reproduce:reproduce_main",
                         "re-run a published table (Rifai 2011, ...) and set ours beside the paper's"),
    "presets": Command("regae.cli.dispatch:presets_main", "list the packaged --config presets"),
}


def overview() -> str:
    """``regae --help``."""
    lines = ["usage: regae COMMAND [options]   (regae COMMAND --help for details)", "", "Training (LightningCLI):"]
    lines += [f"  {k:12s} {v}" for k, v in TRAINER_COMMANDS.items()]
    lines += ["", "Analysis and tools:"]
    lines += [f"  {k:12s} {v.help}" for k, v in COMMANDS.items()]
    lines += ["", "Presets for --config (regae presets):"]
    lines += [f"  {name:24s} {preset_summary(p)}" for name, p in presets().items()]
    lines += ["", "Example: regae fit --config contractive --trainer.max_epochs 2"]
    return "\n".join(lines)

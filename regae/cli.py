"""The ``regae`` command: dispatch, presets, and the answers that need no torch.

``regae``, ``regae --help`` and ``regae presets`` import neither torch nor Lightning, and a
training command line is checked by :mod:`regae.preflight` before Lightning is imported
(:mod:`regae.trainer_cli`, loaded only for fit/validate/test/predict). The analysis commands
are imported only when named. ``--config NAME`` accepts a packaged preset name (see
``regae presets``) as well as a path. A user mistake (``RegaeError``) is printed as one line
and exits with status 2; output into a closed pipe (``regae presets | head -3``) ends quietly.
"""

from __future__ import annotations

import importlib
import os
import select
import sys
from pathlib import Path
from typing import Any

from regae.errors import ConfigError, RegaeError
from regae.preflight import SUBCOMMANDS, check_trainer_argv

PRESET_DIR = Path(__file__).with_name("configs")

#: command -> "module:function" taking argv; imported only when used.
EXTRA_COMMANDS: dict[str, tuple[str, str]] = {
    "compare": ("regae.analysis.commands:compare_main", "train sparse + contractive AEs, then write the report"),
    "report": ("regae.analysis.commands:report_main", "analyse checkpoints: t-SNE, interpolation, classifiers"),
    "check-rerun": ("regae.analysis.rerun:check_rerun_main",
                    "set a rerun's report beside a published one: each figure inside its 95 % interval?"),
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
    lines += [f"  {k:12s} {v}" for k, v in TRAINER_COMMANDS.items()]
    lines += ["", "Analysis and tools:"]
    lines += [f"  {k:12s} {v[1]}" for k, v in EXTRA_COMMANDS.items()]
    lines += ["", "Presets for --config (regae presets):"]
    lines += [f"  {name:24s} {preset_summary(p)}" for name, p in presets().items()]
    lines += ["", "Example: regae fit --config contractive --trainer.max_epochs 2"]
    return "\n".join(lines)


def run(argv: list[str]) -> int:
    """Run one ``regae`` command line (without the program name); the exit status."""
    if not argv or argv[0] in ("-h", "--help"):
        print(overview())
        return 0
    command = argv[0]
    if command in EXTRA_COMMANDS:
        module, func = EXTRA_COMMANDS[command][0].split(":")
        return int(getattr(importlib.import_module(module), func)(argv[1:]) or 0)
    if command not in SUBCOMMANDS and not command.startswith("-"):
        raise ConfigError(f"unknown command {command!r}; commands: "
                          f"{', '.join([*TRAINER_COMMANDS, *EXTRA_COMMANDS])} (see regae --help)")
    argv = resolve_presets(argv)
    if not command.startswith("-"):  # options before the command are LightningCLI's to read
        check_trainer_argv(argv)
    from regae.trainer_cli import run_trainer_cli  # imports Lightning (seconds)

    run_trainer_cli(argv)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        code = run(argv)
        sys.stdout.flush()  # a closed pipe raises here, inside the try, not at interpreter exit
        return code
    except RegaeError as exc:
        print(f"regae: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("regae: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        fd = _closed_stdout_fd()
        if fd is None:  # another pipe or socket broke: a bug, keep its traceback
            raise
        # `regae presets | head -3`: the reader has all it wanted. Point stdout at /dev/null so the
        # interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
        return 141  # 128 + SIGPIPE, what a shell reports for a tool stopped by a closed pipe


def _closed_stdout_fd() -> int | None:
    """stdout's file descriptor if it is a pipe whose reader has gone (poll reports an error)."""
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return fd if any(events & select.POLLERR for _, events in poller.poll(0)) else None
    except (AttributeError, OSError, ValueError):  # not a real file (tests' StringIO)
        return None


def __getattr__(name: str) -> Any:
    """``RegaeCLI`` and ``run_trainer_cli`` moved to :mod:`regae.trainer_cli`; still importable
    from here (``launch/`` does), loading Lightning only when asked for."""
    if name in ("RegaeCLI", "run_trainer_cli"):
        from regae import trainer_cli

        return getattr(trainer_cli, name)
    raise AttributeError(f"module 'regae.cli' has no attribute {name!r}")


if __name__ == "__main__":
    sys.exit(main())

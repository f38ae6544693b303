"""The ``regae`` command: dispatch, and a user's mistake as one line.

``regae``, ``regae --help`` and ``regae presets`` import neither torch nor Lightning, and a
training command line is checked by :mod:`regae.configs.preflight` before Lightning is imported.
Commands are looked up in :data:`regae.cli.commands.COMMANDS` and imported only when named.
``--config NAME`` accepts a packaged preset name (see ``regae presets``) as well as a path. A user
mistake (:class:`~regae.errors.RegaeError`) is printed as one line and exits with status 2; output
into a closed pipe (``regae presets | head -3``) ends quietly.
"""

from __future__ import annotations

import importlib
import os
import select
import sys

from regae.cli.commands import COMMANDS, TRAINER_COMMANDS, overview
from regae.cli.parser import Parser
from regae.configs import PRESET_DIR, preset_summary, presets, resolve_presets
from regae.configs.preflight import SUBCOMMANDS, check_trainer_argv
from regae.errors import ConfigError, RegaeError


def call(target: str, argv: list[str]) -> int:
    """Import ``"module:function"`` and run it on ``argv``; its exit status."""
    module, func = target.split(":")
    return int(getattr(importlib.import_module(module), func)(argv) or 0)


def presets_main(argv: list[str]) -> int:
    """regae presets: list the packaged configs with their one-line descriptions."""
    Parser(prog="regae presets", description="List the packaged --config presets with what each trains.").parse_args(argv)
    for name, path in presets().items():
        print(f"{name:24s} {preset_summary(path)}")
    print(f"\n(files in {PRESET_DIR}; use with: regae fit --config NAME)")
    return 0


def trainer_main(argv: list[str]) -> int:
    """fit/validate/test/predict: checked here without Lightning, then run by LightningCLI."""
    argv = resolve_presets(argv)
    if argv and not argv[0].startswith("-"):  # options before the command are LightningCLI's to read
        check_trainer_argv(argv)
    lightning_cli = importlib.import_module("regae.training.lightning_cli")  # imports Lightning (seconds)
    lightning_cli.run_trainer_cli(argv, descriptions=TRAINER_COMMANDS, overview=overview())
    return 0


def run(argv: list[str]) -> int:
    """Run one ``regae`` command line (without the program name); the exit status."""
    if not argv or argv[0] in ("-h", "--help"):
        print(overview())
        return 0
    command = argv[0]
    if command in COMMANDS:
        return call(COMMANDS[command].target, argv[1:])
    if command not in SUBCOMMANDS and not command.startswith("-"):
        raise ConfigError(f"unknown command {command!r}; commands: "
                          f"{', '.join([*TRAINER_COMMANDS, *COMMANDS])} (see regae --help)")
    return trainer_main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        code = run(argv)
        sys.stdout.flush()  # a closed pipe raises here, inside the try, not at interpreter exit
        return code
    except RegaeError as exc:
        code = getattr(exc, "exit_code", 2)  # 130: stopped by Ctrl-C, its last step saved (not a mistake)
        print(f"regae: {'error: ' if code == 2 else ''}{exc}", file=sys.stderr)
        return code
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

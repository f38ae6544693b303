"""The argument parser of every ``regae`` command that LightningCLI does not parse.

A mistake on the command line is one :class:`~regae.errors.UsageError` line, printed by
:func:`regae.cli.dispatch.main` like every other user mistake (argparse would print its usage and exit).
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from regae.errors import UsageError


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors raise :class:`UsageError` naming the command and its ``--help``."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")

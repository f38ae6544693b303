"""The ``regae`` command's front door: dispatch, one-line errors, the checks that need no torch.

Nothing here imports torch or Lightning (``regae``, ``regae --help``, ``regae presets`` and the
mistakes :mod:`regae.configs.preflight` catches answer at once). Each command's implementation is
named in :data:`regae.cli.commands.COMMANDS` as ``module:function`` and imported when it runs.
"""

from regae.cli.dispatch import main, run

__all__ = ["main", "run"]

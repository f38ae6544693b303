"""One exception type per kind of user mistake.

The CLI catches :class:`RegaeError` once and prints it as a single line; any other
exception is a bug and keeps its traceback.
"""


class RegaeError(Exception):
    """Base class of every error a user can act on."""


class ConfigError(RegaeError, ValueError):
    """A configuration value is out of range, unknown or inconsistent."""


class DataError(RegaeError):
    """A data file is missing, truncated or fails its checksum."""


class CheckpointError(RegaeError):
    """A checkpoint is missing, corrupt, unsafe or not a regae checkpoint."""


class NonFiniteLossError(RegaeError):
    """A loss term became NaN or infinite during training."""


class OutputError(RegaeError):
    """An output location cannot be written."""


class UsageError(RegaeError):
    """A command-line mistake: an unknown option, a missing argument, options that exclude each other."""

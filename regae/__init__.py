"""regae: regularized autoencoders in PyTorch Lightning.

The public names are imported on first use (PEP 562), so ``import regae`` and the
``regae`` command start without loading torch or Lightning.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    "load": "regae.checkpoint", "read_checkpoint": "regae.checkpoint",
    "Corruption": "regae.data", "MNISTDataModule": "regae.data", "load_split": "regae.data",
    "CheckpointError": "regae.errors", "ConfigError": "regae.errors", "DataError": "regae.errors",
    "NonFiniteLossError": "regae.errors", "RegaeError": "regae.errors",
    "AutoEncoder": "regae.module",
    "AEOutput": "regae.nets", "build_net": "regae.nets",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'regae' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # for type checkers and IDEs
    from regae.checkpoint import load, read_checkpoint  # noqa: F401
    from regae.data import Corruption, MNISTDataModule, load_split  # noqa: F401
    from regae.errors import CheckpointError, ConfigError, DataError, NonFiniteLossError, RegaeError  # noqa: F401
    from regae.module import AutoEncoder  # noqa: F401
    from regae.nets import AEOutput, build_net  # noqa: F401

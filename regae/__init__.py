"""regae: regularized autoencoders in PyTorch Lightning.

The public names are imported on first use (PEP 562), so ``import regae`` and the
``regae`` command start without loading torch or Lightning. The package's folders are its
architecture (README, "Layout"); the names below are its Python API. This face imports none of
them itself (no ``TYPE_CHECKING`` block either): it sits below every package, which may use its
one helper, :func:`_lazy_exports`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from regae.version import __version__  # noqa: F401  (the public face: regae.__version__)


def _lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a package that names its public objects in ``exports``
    (name -> defining module) and imports each on first use (PEP 562). Every lazy face in regae,
    launch and demo uses this one; no exported name may also be a submodule's name (the submodule
    would replace the object once imported: tests/project/test_architecture.py checks)."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__

#: public name -> module that defines it
_EXPORTS = {
    "load": "regae.checkpoints.read", "read_checkpoint": "regae.checkpoints.read",
    "load_data": "regae.checkpoints.read",
    "Corruption": "regae.data", "ImageDataModule": "regae.data", "MNISTDataModule": "regae.data",
    "load_dataset": "regae.data", "load_split": "regae.data",
    "CheckpointError": "regae.errors", "ConfigError": "regae.errors", "DataError": "regae.errors",
    "NonFiniteLossError": "regae.errors", "OutputError": "regae.errors", "RegaeError": "regae.errors",
    "AutoEncoder": "regae.model", "encode": "regae.model", "reconstruct": "regae.model", "psnr": "regae.model",
    "AEOutput": "regae.nets", "build_net": "regae.nets",
    "make_trainer": "regae.training.trainer",
}

__all__ = sorted([*_EXPORTS, "__version__"])
__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)


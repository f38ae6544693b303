"""Lightning's checkpoint IO, writing through regae's one atomic writer.

:class:`AtomicCheckpointIO` saves with :func:`regae.checkpoints.write.atomic_save` (same-directory
temporary file, fsync, ``os.replace``: a reader sees the old file or the new one, never half),
refuses to write weights that are NaN/inf (the last good checkpoint is kept), and loads through
:func:`regae.checkpoints.read.read_checkpoint` (``weights_only``; a corrupt, foreign or
code-carrying file is one clear :class:`~regae.errors.CheckpointError`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from regae.checkpoints.read import non_finite_tensors, read_checkpoint
from regae.checkpoints.write import atomic_save
from regae.errors import NonFiniteLossError


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` with atomic saves, a finiteness guard on save, and ``weights_only`` loading."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not take storage_options, got {storage_options!r}")
        if bad := non_finite_tensors(checkpoint.get("state_dict", {})):
            raise NonFiniteLossError(
                f"training stopped at step {checkpoint.get('global_step', '?')}: non-finite weights in "
                f"{', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}; not writing {path} "
                "(the last good checkpoint is kept); lower the learning rate or the regularizer weights"
            )
        atomic_save(checkpoint, path)

    def load_checkpoint(
        self, path: str | os.PathLike, map_location: Callable | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        return read_checkpoint(path)

"""Checkpoint files that are either the old version or the new one, never half of either.

Lightning 2.6's ``TorchCheckpointIO`` writes through an fsspec transaction whose temporary
file comes from ``tempfile.mkstemp()`` — in the system temp folder, not next to the target —
and commits it with ``shutil.move``. Across filesystems (``/tmp`` on tmpfs, checkpoints on
NFS or a scratch disk) that move is a copy into the final name, so a kill during the copy
leaves a truncated ``last.ckpt``; nothing is fsynced either. :class:`AtomicCheckpointIO`
instead writes

    <dir>/.<name>.<random>.tmp  ->  write, flush, fsync  ->  os.replace(tmp, <dir>/<name>)  ->  fsync(<dir>)

``os.replace`` within one directory is an atomic rename on POSIX, so a reader sees either
the previous complete file or the new complete file. A killed writer leaves at most a
dot-named ``*.tmp`` file, which Lightning's ``ckpt_path="last"`` lookup ignores.

It also refuses to write weights that are NaN/inf (the last good checkpoint is kept) and
loads with ``weights_only=True`` through :func:`regae.checkpoint.read_checkpoint`, so a
corrupt, foreign or code-carrying file is one clear :class:`~regae.errors.CheckpointError`.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from regae.errors import NonFiniteLossError

TMP_SUFFIX = ".tmp"


def atomic_write_bytes(data: bytes, path: str | os.PathLike) -> None:
    """Write ``data`` to ``path`` so that ``path`` is never seen partially written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~_umask())  # mkstemp makes 0600; a saved file gets the usual mode
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    """Persist the rename itself (the directory entry) where the OS allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def non_finite_tensors(state_dict: dict[str, Any]) -> list[str]:
    """Names of floating-point tensors in ``state_dict`` holding a NaN or an inf."""
    return [
        k for k, v in state_dict.items()
        if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` with same-directory temp file + fsync + ``os.replace``, a finiteness
    guard on save, and ``weights_only`` loading with regae's clear errors."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not take storage_options, got {storage_options!r}")
        if bad := non_finite_tensors(checkpoint.get("state_dict", {})):
            raise NonFiniteLossError(
                f"training stopped at step {checkpoint.get('global_step', '?')}: non-finite weights in "
                f"{', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}; not writing {path} "
                "(the last good checkpoint is kept); lower the learning rate or the regularizer weights"
            )
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        atomic_write_bytes(buffer.getbuffer(), path)

    def load_checkpoint(
        self, path: str | os.PathLike, map_location: Callable | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        from regae.checkpoint import read_checkpoint

        return read_checkpoint(path)

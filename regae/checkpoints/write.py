"""Files that are either the old version or the new one, never half of either: the one writer.

Every file regae writes that a reader may see while it is written or after a crash (checkpoints,
weights-only copies, ``metrics.json``, ``index.md``, figures, launch and status records) goes through
:func:`atomic_write_bytes`::

    <dir>/.<name>.<random>.tmp  ->  write, flush, fsync  ->  os.replace(tmp, <dir>/<name>)  ->  fsync(<dir>)

``os.replace`` within one directory is an atomic rename on POSIX, so a reader sees either the
previous complete file or the new complete file. A killed writer leaves at most a dot-named
``*.tmp`` file, which Lightning's ``ckpt_path="last"`` lookup ignores. The module loads no torch
(the commands' ``--help`` answer at once), except inside :func:`atomic_save`. (Lightning's own
``TorchCheckpointIO`` writes its temporary file in the system temp folder and moves it, which
across filesystems is a copy into the final name: a kill during it leaves a truncated file.)
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from regae.errors import OutputError

TMP_SUFFIX = ".tmp"


def atomic_write_bytes(data: bytes | bytearray | memoryview, path: str | os.PathLike) -> Path:
    """Write ``data`` to ``path`` so that ``path`` is never seen partially written; returns the path."""
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
    return path


def atomic_write_text(text: str, path: str | os.PathLike) -> Path:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
    return atomic_write_bytes(text.encode("utf-8"), path)


INF_JSON = "inf"


def json_safe(obj: Any) -> Any:
    """``obj`` as strict JSON can hold it, recursively: tensors and arrays as lists (anything with
    ``tolist``), numpy scalars as numbers, ±inf as ``"inf"``/``"-inf"``, NaN as ``null``.

    The one rule for every JSON file regae writes (:func:`atomic_write_json` applies it): a PSNR of
    identical images is +inf, and a reader sees ``"inf"`` wherever it looks."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if not isinstance(obj, (str, bytes, int, float)) and callable(getattr(obj, "tolist", None)):
        return json_safe(obj.tolist())  # torch.Tensor, np.ndarray, np.float64, np.int64, np.bool_ ...
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        if math.isinf(obj):
            return INF_JSON if obj > 0 else "-" + INF_JSON
    return obj


def atomic_write_json(obj: Any, path: str | os.PathLike, indent: int | None = 1, sort_keys: bool = False) -> Path:
    """:func:`json_safe` of ``obj`` as strict JSON, written atomically with a final newline."""
    text = json.dumps(json_safe(obj), indent=indent, sort_keys=sort_keys, allow_nan=False)
    return atomic_write_text(text + "\n", path)


def atomic_write_figure(fig: Any, path: str | os.PathLike, **savefig: Any) -> Path:
    """A matplotlib figure as an image file (format from ``path``'s suffix), written atomically:
    a report's index never points at half a PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png", **savefig)
    return atomic_write_bytes(buffer.getbuffer(), path)


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` into ``path`` atomically."""
    import torch  # here, not at the top: this module is torch-free for the writers of JSON and text

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return atomic_write_bytes(buffer.getbuffer(), path)


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


def check_writable(folder: str | os.PathLike, what: str = "files") -> Path:
    """Create ``folder`` (and parents) and prove a file can be written there, else :class:`OutputError`
    ("cannot write <what> to <folder>: <reason>")."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".regae-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write {what} to {folder}: {exc.strerror or exc}") from None
    return folder

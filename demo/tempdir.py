"""The demo's own temp folder: what a running demo writes goes under it, and it is removed at exit.

Gradio keeps every upload and every image it serves as ``<GRADIO_TEMP_DIR>/<sha256>/<name>``
(``/tmp/gradio`` by default). Its ``delete_cache`` schedule and its shutdown remove those files
but never their ``<sha256>`` folders, so each distinct image leaves an empty folder behind for
good (measured: 30 after 10 runs, so hundreds after a class has used the demo). Per process,
:func:`owned_temp_dir` makes one fresh folder, ``regae-demo-`` + 8 random characters (:func:`tempfile.mkdtemp`) under ``GRADIO_TEMP_DIR``
(or the system's temp folder), points Gradio's cache and Python's ``tempfile`` at it, removes the
folders that Gradio has emptied while it runs (:func:`prune_empty_folders`, every
``prune_every`` seconds) and removes the whole folder when the demo stops. No Gradio here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

PREFIX = "regae-demo-"
PRUNE_EVERY = 600  # s between prunes: as often as Gradio deletes old files (demo.app.DELETE_CACHE)
EMPTY_FOR = 600  # s a folder must have been empty (unchanged) before it is removed


def prune_empty_folders(root: str | Path, empty_for: float = EMPTY_FOR, now: float | None = None) -> int:
    """Remove the empty folders below ``root`` left unchanged for ``empty_for`` seconds; how many went.

    ``root`` itself stays. A folder's mtime is when its last file was removed (or it was made), so
    a folder Gradio has just made for a file it is about to write is left alone.
    """
    root = Path(root)
    now = time.time() if now is None else now
    removed = 0
    for folder, _subfolders, files in os.walk(root, topdown=False):
        if Path(folder) == root or files:
            continue
        try:
            if now - os.stat(folder).st_mtime < empty_for:
                continue
            os.rmdir(folder)  # refuses if a file arrived meanwhile
            removed += 1
        except OSError:
            continue
    return removed


@contextlib.contextmanager
def owned_temp_dir(parent: str | Path | None = None, prune_every: float = PRUNE_EVERY,
                   empty_for: float = EMPTY_FOR) -> Iterator[Path]:
    """A fresh folder for this demo's temp files; Gradio's cache and ``tempfile`` point into it meanwhile.

    ``parent``: where to make it (default ``$GRADIO_TEMP_DIR``, else the system's temp folder).
    Sets ``GRADIO_TEMP_DIR`` to ``<folder>/gradio`` and ``tempfile.tempdir`` to the folder, so it
    must be entered before the Gradio app is built (components read the variable when made).
    On exit both are restored and the folder is removed with everything in it.
    """
    parent = Path(parent or os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    cache = root / "gradio"
    cache.mkdir()
    saved_env, saved_tempdir = os.environ.get("GRADIO_TEMP_DIR"), tempfile.tempdir
    os.environ["GRADIO_TEMP_DIR"] = str(cache)
    tempfile.tempdir = str(root)
    stop = threading.Event()

    def prune() -> None:
        while not stop.wait(prune_every):
            prune_empty_folders(cache, empty_for)

    pruner = threading.Thread(target=prune, name="demo-temp-prune", daemon=True)
    pruner.start()
    try:
        yield root
    finally:
        stop.set()
        pruner.join(timeout=5)
        tempfile.tempdir = saved_tempdir
        if saved_env is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = saved_env
        shutil.rmtree(root, ignore_errors=True)

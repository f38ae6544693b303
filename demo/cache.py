"""What start-up computes per checkpoint, kept on disk: the second start reads it back in milliseconds.

:func:`demo.insight.analyse` encodes 30,000 images and decodes 10,000 per checkpoint (23–33 s of
CPU for the full-size U-Nets the demo serves). Its result (the classifier's parameters, test
accuracy, test PSNR, the map's projection, its rendered image and geometry, the map's 5-NN
accuracy, the units' statistics and decoder images of :mod:`demo.units`) is saved as one ``.npz``
file per checkpoint and data, named by its key:

    key = sha256( sha256(checkpoint file bytes), sha256(the reference data), settings )

* the checkpoint's **bytes**, not its name or mtime: a copy or a rename hits the same entry,
  any retrained or replaced file misses it;
* the **data** it is judged on (:func:`data_fingerprint`: the name, class names, and the bytes of
  the training subset and test images and labels used): the same checkpoint judged on a slice of
  MNIST (the tests) and on all of it gets two entries;
* the **settings** (:data:`VERSION` of this analysis, ``n_train``, the seed, the device type).

Where: ``--cache DIR`` (``python -m demo``), else ``$REGAE_DEMO_CACHE``, else
``$XDG_CACHE_HOME/regae-demo``, else ``~/.cache/regae-demo`` (:func:`default_cache_dir`);
``--no-cache`` computes everything at each start. Entries are small (~70 KB for MNIST) and never
expire; delete the folder to reclaim them. A cache that cannot be read or written never makes a checkpoint
unusable: an unreadable, foreign or inconsistent entry is computed again (and rewritten), and a
folder that cannot be written is reported once and the demo goes on without it. Entries are read
with ``allow_pickle=False``: numbers, strings and a PNG, no code. No Gradio here.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from demo.insight import CodeClassifier, Insight, Reference
from demo.latent_map import METHODS, LatentMap, Projection
from demo.units import Units, check_units
from regae.checkpoints.write import atomic_write_bytes

VERSION = 2  # of what analyse() computes and of this file format: bump when either changes
ENV = "REGAE_DEMO_CACHE"
MAX_ENTRY_BYTES = 16 * 2**20  # an entry is ~70 KB for MNIST; anything far larger is not one of ours
SUFFIX = ".npz"

log = logging.getLogger("demo")


def default_cache_dir() -> Path:
    """``$REGAE_DEMO_CACHE``, else ``$XDG_CACHE_HOME/regae-demo``, else ``~/.cache/regae-demo``."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "regae-demo"


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_fingerprint(ref: Reference, train_indices) -> str:
    """sha256 of what the analysis reads of ``ref``: its name, spec, class names, the training images and
    labels at ``train_indices`` and every test image and label (tens of milliseconds for MNIST)."""
    digest = hashlib.sha256(json.dumps([ref.name, ref.spec, ref.class_names]).encode())
    for tensor in (ref.train_images[train_indices], ref.train_labels[train_indices], ref.test_images,
                   ref.test_labels):
        digest.update(str((tuple(tensor.shape), str(tensor.dtype))).encode())
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


def entry_key(checkpoint_sha: str, data_sha: str, settings: dict) -> str:
    """The entry's name: sha256 of the checkpoint's and the data's hashes and the settings."""
    text = json.dumps({"version": VERSION, "checkpoint": checkpoint_sha, "data": data_sha, **settings},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def to_bytes(insight: Insight, key: str) -> bytes:
    """``insight`` as one ``.npz`` (no pickles): arrays, a JSON string of the numbers and names, the map PNG."""
    m, p = insight.map, insight.map.projection
    meta = {
        "version": VERSION, "key": key, "accuracy": insight.accuracy, "test_psnr": insight.test_psnr,
        "n_train": insight.n_train, "n_test": insight.n_test, "reference": insight.reference,
        "image_shape": list(insight.image_shape), "seconds": insight.seconds, "no_classes": insight.no_classes,
        "separation": insight.separation, "n_map": insight.n_map, "projection": [p.kind, list(p.axes), p.note],
        "box": list(m.box), "saved": time.time(), "units_kind": insight.units.kind,
        "class_names": list(insight.classifier.class_names) if insight.classifier is not None else None,
    }
    arrays = {"meta": np.array(json.dumps(meta)), "map_png": np.frombuffer(m.png(), dtype=np.uint8),
              "map_origin": m.origin, "map_axes": m.axes, "proj_mean": p.mean, "proj_basis": p.basis,
              "proj_explained": p.explained}
    arrays.update({f"units_{k}": v for k, v in insight.units._asdict().items() if k != "kind"})
    if insight.classifier is not None:
        arrays.update({f"clf_{k}": v for k, v in insight.classifier.params().items()})
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def from_bytes(data: bytes, key: str, latent_dim: int) -> Insight:
    """The :class:`Insight` :func:`to_bytes` wrote under ``key``; ``ValueError`` (or another exception) if
    the bytes are not that, e.g. another key's entry, a truncated file or codes or images of another size."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    if meta.get("version") != VERSION or meta.get("key") != key:
        raise ValueError("an entry of another version or key")
    kind, axes, note = meta["projection"]
    if kind not in METHODS:
        raise ValueError(f"unknown projection {kind!r}")
    projection = Projection(kind, arrays["proj_mean"].astype(np.float64), arrays["proj_basis"].astype(np.float64),
                            arrays["proj_explained"].astype(np.float64), (str(axes[0]), str(axes[1])), str(note))
    if projection.mean.shape != (latent_dim,) or projection.basis.shape != (latent_dim, 2) \
            or not np.isfinite(projection.basis).all() or projection.explained.shape != (2,):
        raise ValueError("a projection of another shape")
    latent_map = LatentMap.from_png(projection, arrays["map_png"].tobytes(), arrays["map_origin"],
                                    arrays["map_axes"], tuple(meta["box"]))
    classifier = None
    if meta["class_names"] is not None:
        params = {k[len("clf_"):]: v for k, v in arrays.items() if k.startswith("clf_")}
        classifier = CodeClassifier.from_params(tuple(meta["class_names"]), params)
        if classifier.params()["mean"].shape != (latent_dim,):
            raise ValueError("a classifier for codes of another size")
    units = Units(str(meta["units_kind"]), *(arrays[f"units_{k}"] for k in Units._fields[1:]))
    check_units(units, latent_dim, tuple(meta["image_shape"]), int(meta["n_test"]))
    return Insight(classifier, meta["accuracy"], float(meta["test_psnr"]), int(meta["n_train"]), int(meta["n_test"]),
                   latent_map, str(meta["reference"]), tuple(meta["image_shape"]), float(meta["seconds"]), units,
                   meta["no_classes"], meta["separation"], int(meta["n_map"]), from_cache=True)


class AnalysisCache:
    """A folder of analyses, one ``<key>.npz`` each (see the module's docstring)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._warned = False

    def path(self, key: str) -> Path:
        return self.folder / f"{key}{SUFFIX}"

    def load(self, key: str, latent_dim: int) -> Insight | None:
        """The entry under ``key``, or None if there is none or it cannot be used (it will be rewritten)."""
        path = self.path(key)
        try:
            if not path.is_file() or path.stat().st_size > MAX_ENTRY_BYTES:
                return None
            return from_bytes(path.read_bytes(), key, latent_dim)
        except Exception as exc:  # noqa: BLE001 -- a bad entry is a miss, never an unusable checkpoint
            log.warning("demo cache: ignoring unreadable entry %s (%s: %s)", path, type(exc).__name__, exc)
            return None

    def save(self, key: str, insight: Insight) -> Path | None:
        """Write the entry (atomically); None, with one warning per cache, if the folder cannot be written."""
        try:
            return atomic_write_bytes(to_bytes(insight, key), self.path(key))
        except Exception as exc:  # noqa: BLE001 -- a read-only or full disk: serve without caching
            if not self._warned:
                log.warning("demo cache: cannot write to %s (%s: %s); start-up will compute again next time",
                            self.folder, type(exc).__name__, exc)
                self._warned = True
            return None

"""Loading a regae checkpoint safely: ``weights_only`` unpickling, clear errors; its data.

A checkpoint keeps the model's hyperparameters (``input_shape`` (C, H, W) among them; absent
in checkpoints older than datasets, which are MNIST's (1, 28, 28)) and, under
``checkpoint["regae"]["data"]``, the record of the dataset it was trained on
(:meth:`regae.data.ImageDataset.record`: spec with an absolute path, shape, classes).
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from regae.data.dataset import ImageDataset
from regae.data.registry import load_recorded
from regae.errors import CheckpointError, ConfigError, DataError
from regae.module import CHECKPOINT_KEY, AutoEncoder


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict, loaded with ``weights_only=True`` (no code runs on load)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():  # a plain pickle gets a clear CheckpointError below, not torch's caveat
            warnings.filterwarnings("ignore", message="Detected pickle protocol", module=r"torch\._weights_only_unpickler")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = _unpickling_detail(str(exc)) or type(exc).__name__
        if "GLOBAL" in detail:  # the file asks to import something: code would run on a plain load
            raise CheckpointError(f"refusing to load {path}: it is not plain weights ({detail[:160]})") from None
        raise CheckpointError(f"checkpoint corrupt or not a torch file: {path} ({detail[:160]})") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError, AttributeError,
            zipfile.BadZipFile) as exc:  # what torch.load raises on junk varies with the junk
        raise CheckpointError(f"checkpoint corrupt or truncated: {path} ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or CHECKPOINT_KEY not in ckpt or "state_dict" not in ckpt:
        raise CheckpointError(f"not a regae checkpoint: {path} (no '{CHECKPOINT_KEY}' entry)")
    return ckpt


def _unpickling_detail(message: str) -> str:
    """The informative line of torch's weights_only error (it wraps it in generic advice)."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    unpickler = [ln.split("WeightsUnpickler error:", 1)[1].strip() for ln in lines if "WeightsUnpickler error:" in ln]
    if unpickler and unpickler[0]:  # e.g. "Unsupported global: GLOBAL print was not an allowed global ..."
        return unpickler[0]
    boilerplate = ("Weights only load failed", "Please file an issue", "Check the documentation", "(1)", "(2)")
    return next((ln for ln in lines if not ln.startswith(boilerplate)), "")


def load(path: str | Path, map_location: str | torch.device = "cpu") -> AutoEncoder:
    """Rebuild the AutoEncoder stored at ``path``, in eval mode, on ``map_location``."""
    ckpt = read_checkpoint(path)
    try:
        # LightningCLI adds bookkeeping keys such as `_instantiator`; they are not constructor arguments
        hparams = {k: v for k, v in ckpt.get("hyper_parameters", {}).items() if not k.startswith("_")}
        model = AutoEncoder(**hparams)
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {path} has unusable hyperparameters: {exc}") from None
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {path} does not match its architecture: {str(exc)[:200]}") from None
    model.on_load_checkpoint(ckpt)
    return model.to(map_location).eval()


def data_record(ckpt: dict[str, Any]) -> dict[str, Any] | None:
    """The dataset record of a checkpoint dict (from :func:`read_checkpoint`); None if it has none."""
    return ckpt.get(CHECKPOINT_KEY, {}).get("data")


def load_data(model: AutoEncoder, **overrides: Any) -> ImageDataset:
    """The dataset ``model`` (from :func:`load`) was trained on, read again into memory.

    A checkpoint without a data record is MNIST's when the model takes 1x28x28 images;
    otherwise a DataError asks for the dataset. ``overrides`` go to
    :func:`regae.data.load_dataset` (e.g. ``max_bytes``).
    """
    record = model.data_record
    if record is None and tuple(model.input_shape) != (1, 28, 28):
        c, h, w = model.input_shape
        raise DataError(f"the checkpoint does not say which dataset its {c}x{h}x{w} model was trained on; "
                        "load it with regae.data.load_dataset(...)")
    return load_recorded(record, **overrides)


#: what a weights-only copy keeps: enough for ``load``, ``load_data`` and the report's budget table
WEIGHTS_ONLY_KEYS = ("state_dict", "hyper_parameters", "datamodule_hyper_parameters", CHECKPOINT_KEY, "global_step",
                     "epoch", "pytorch-lightning_version")


def save_weights_only(src: str | Path, dst: str | Path) -> Path:
    """Copy checkpoint ``src`` to ``dst`` without optimizer, scheduler and loop state (about a third
    of the size for Adam): it still loads with :func:`load` and reports, but cannot resume training."""
    import io as _io

    from regae.io import atomic_write_bytes

    ckpt = read_checkpoint(src)
    slim = {k: ckpt[k] for k in WEIGHTS_ONLY_KEYS if k in ckpt}
    buffer = _io.BytesIO()
    torch.save(slim, buffer)
    atomic_write_bytes(buffer.getvalue(), dst)
    return Path(dst)

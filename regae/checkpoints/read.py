"""Reading a regae checkpoint safely: ``weights_only`` unpickling, its structure checked once, clear errors.

A checkpoint keeps the model's hyperparameters (``input_shape`` (C, H, W) among them; absent
in checkpoints older than datasets, which are MNIST's (1, 28, 28)) and the record of the
dataset it was trained on (:mod:`regae.data.record`: spec with an absolute path, shape, classes).
The file is read once: :func:`read_checkpoint` gives the dict, and :func:`model_from`,
:func:`data_record` and :func:`load_data` take that dict (or a path, or a loaded model).
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from regae.data.dataset import ImageDataset
from regae.data.record import checkpoint_record
from regae.data.registry import load_recorded
from regae.errors import CheckpointError, ConfigError, DataError
from regae.model.autoencoder import CHECKPOINT_KEY, AutoEncoder

Checkpoint = dict[str, Any]


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


def model_from(ckpt: Checkpoint, where: str | Path = "checkpoint") -> AutoEncoder:
    """The AutoEncoder a checkpoint dict describes, with its weights (train mode, on the CPU).

    ``where`` names the file in error messages."""
    try:
        # LightningCLI adds bookkeeping keys such as `_instantiator`; they are not constructor arguments
        hparams = {k: v for k, v in ckpt.get("hyper_parameters", {}).items() if not k.startswith("_")}
        model = AutoEncoder(**hparams)
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {where} has unusable hyperparameters: {exc}") from None
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {where} does not match its architecture: {str(exc)[:200]}") from None
    model.on_load_checkpoint(ckpt)
    model.data_record = checkpoint_record(ckpt)
    return model


def load(path: str | Path, map_location: str | torch.device = "cpu") -> AutoEncoder:
    """Rebuild the AutoEncoder stored at ``path``, in eval mode, on ``map_location``."""
    return model_from(read_checkpoint(path), path).to(map_location).eval()


def data_record(source: str | Path | Checkpoint | AutoEncoder) -> dict[str, Any] | None:
    """The dataset record of a checkpoint (path or dict from :func:`read_checkpoint`) or of a model
    from :func:`load`; None if it has none (an old MNIST checkpoint)."""
    if isinstance(source, AutoEncoder):
        return source.data_record
    return checkpoint_record(source if isinstance(source, dict) else read_checkpoint(source))


def _input_shape(source: str | Path | Checkpoint | AutoEncoder) -> tuple[int, ...]:
    if isinstance(source, AutoEncoder):
        return tuple(source.input_shape)
    ckpt = source if isinstance(source, dict) else read_checkpoint(source)
    return tuple(ckpt.get("hyper_parameters", {}).get("input_shape") or (1, 28, 28))


def load_data(source: str | Path | Checkpoint | AutoEncoder, **overrides: Any) -> ImageDataset:
    """The dataset a checkpoint (path, dict or loaded model) was trained on, read again into memory.

    A checkpoint without a data record is MNIST's when the model takes 1x28x28 images;
    otherwise a DataError asks for the dataset. ``overrides`` go to
    :func:`regae.data.load_dataset` (e.g. ``max_bytes``).
    """
    if isinstance(source, (str, Path)):
        source = read_checkpoint(source)
    record = data_record(source)
    if record is None and _input_shape(source) != (1, 28, 28):
        c, h, w = _input_shape(source)
        raise DataError(f"the checkpoint does not say which dataset its {c}x{h}x{w} model was trained on; "
                        "load it with regae.data.load_dataset(...)")
    return load_recorded(record, **overrides)

"""Loading a regae checkpoint safely: ``weights_only`` unpickling, clear errors."""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from regae.errors import CheckpointError, ConfigError
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

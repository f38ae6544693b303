"""Reading a regae checkpoint safely: ``weights_only`` unpickling, its structure checked once, clear errors.

Before anything is unpickled, the file's size, and for a zip archive (what ``torch.save`` writes)
the sizes its members inflate to, are held against :data:`MAX_CHECKPOINT_BYTES` (a member
compressed more than :data:`MAX_INFLATION` times is refused: ``torch.save`` stores its members
uncompressed); tensors are then memory-mapped, not read. :func:`model_from` builds the net on
torch's ``meta`` device first (its size capped by :data:`regae.nets.registry.MAX_PARAMETERS`),
compares its shapes with the stored weights, and refuses NaN/inf weights, before it allocates
the model. Each problem is one :class:`~regae.errors.CheckpointError` naming the file.

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from regae.data.dataset import ImageDataset
from regae.data.record import DATAMODULE_KEY, LEGACY, RECORD_KEY, checkpoint_record
from regae.data.registry import load_recorded
from regae.errors import CheckpointError, ConfigError, DataError
from regae.model.autoencoder import CHECKPOINT_KEY, AutoEncoder
from regae.model.classifier import KIND as CLASSIFIER_KIND

Checkpoint = dict[str, Any]

#: regae's entry in an autoencoder's checkpoint has no ``kind``; other models name theirs (a classifier: "classifier")
AE_KIND = "autoencoder"
#: the most a checkpoint may take in memory once read (its members inflated): 4 GiB
MAX_CHECKPOINT_BYTES = 4 * 2**30
#: the pickle that describes a checkpoint's structure (tensors are separate members): a few KB in practice
MAX_PICKLE_BYTES = 64 * 2**20
#: a zip member inflating to more than this many times its stored size is a bomb, not a checkpoint
MAX_INFLATION = 20


def _check_sizes(path: Path) -> bool:
    """Refuse a file that would take more than :data:`MAX_CHECKPOINT_BYTES` once read; True if it is a zip."""
    size = path.stat().st_size
    if not zipfile.is_zipfile(path):
        if size > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(f"checkpoint {path} is {size / 2**30:.1f} GiB, more than regae reads "
                                  f"({MAX_CHECKPOINT_BYTES / 2**30:.0f} GiB)")
        return False
    try:
        with zipfile.ZipFile(path) as z:
            members = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint corrupt or truncated: {path} ({type(exc).__name__})") from None
    total = sum(m.file_size for m in members)
    if total > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"checkpoint {path} inflates to {total / 2**30:.1f} GiB, more than regae reads "
                              f"({MAX_CHECKPOINT_BYTES / 2**30:.0f} GiB)")
    for m in members:
        if m.file_size > MAX_INFLATION * max(m.compress_size, 1) and m.file_size > 2**20:
            raise CheckpointError(f"checkpoint {path}: member {m.filename} inflates {m.file_size / max(m.compress_size, 1):.0f}x "
                                  "(torch.save stores its members uncompressed): refusing to read it")
        if m.filename.endswith(".pkl") and m.file_size > MAX_PICKLE_BYTES:
            raise CheckpointError(f"checkpoint {path}: its structure ({m.filename}) is {m.file_size / 2**20:.0f} MiB, "
                                  f"more than a checkpoint's ({MAX_PICKLE_BYTES / 2**20:.0f} MiB at most)")
    return True


def _check_structure(ckpt: Any, path: Path) -> dict[str, Any]:
    """The parts regae reads have the types it reads them as (a malformed file is one clear error)."""
    if not isinstance(ckpt, dict) or CHECKPOINT_KEY not in ckpt or "state_dict" not in ckpt:
        raise CheckpointError(f"not a regae checkpoint: {path} (no '{CHECKPOINT_KEY}' entry)")
    state = ckpt["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise CheckpointError(f"checkpoint {path} is malformed: 'state_dict' must map names to tensors")
    if not isinstance(ckpt.get("hyper_parameters", {}), Mapping):
        raise CheckpointError(f"checkpoint {path} is malformed: 'hyper_parameters' must be a mapping, "
                              f"got a {type(ckpt['hyper_parameters']).__name__}")
    if not isinstance(ckpt[CHECKPOINT_KEY], Mapping):
        raise CheckpointError(f"checkpoint {path} is malformed: '{CHECKPOINT_KEY}' must be a mapping")
    for holder_name, key in ((DATAMODULE_KEY, RECORD_KEY), LEGACY):  # where the data record is, new and old
        holder = ckpt.get(holder_name)
        if holder is None:
            continue
        if not isinstance(holder, Mapping):
            raise CheckpointError(f"checkpoint {path} is malformed: '{holder_name}' must be a mapping")
        if holder.get(key) is not None and not isinstance(holder[key], Mapping):
            raise CheckpointError(f"checkpoint {path} is malformed: its data record ('{holder_name}.{key}') "
                                  f"must be a mapping, got a {type(holder[key]).__name__}")
    return ckpt


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict, loaded with ``weights_only=True`` (no code runs on load), its tensors memory-mapped."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        is_zip = _check_sizes(path)
        with warnings.catch_warnings():  # a plain pickle gets a clear CheckpointError below, not torch's caveat
            warnings.filterwarnings("ignore", message="Detected pickle protocol", module=r"torch\._weights_only_unpickler")
            ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as exc:
        detail = _unpickling_detail(str(exc)) or type(exc).__name__
        if "GLOBAL" in detail:  # the file asks to import something: code would run on a plain load
            raise CheckpointError(f"refusing to load {path}: it is not plain weights ({detail[:160]})") from None
        raise CheckpointError(f"checkpoint corrupt or not a torch file: {path} ({detail[:160]})") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError, AttributeError,
            zipfile.BadZipFile, MemoryError, RecursionError) as exc:  # what torch.load raises on junk varies
        raise CheckpointError(f"checkpoint corrupt or truncated: {path} ({type(exc).__name__})") from None
    return _check_structure(ckpt, path)


def _unpickling_detail(message: str) -> str:
    """The informative line of torch's weights_only error (it wraps it in generic advice)."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    unpickler = [ln.split("WeightsUnpickler error:", 1)[1].strip() for ln in lines if "WeightsUnpickler error:" in ln]
    if unpickler and unpickler[0]:  # e.g. "Unsupported global: GLOBAL print was not an allowed global ..."
        return unpickler[0]
    boilerplate = ("Weights only load failed", "Please file an issue", "Check the documentation", "(1)", "(2)")
    return next((ln for ln in lines if not ln.startswith(boilerplate)), "")


def non_finite_tensors(state_dict: Mapping[str, Any]) -> list[str]:
    """Names of floating-point tensors in ``state_dict`` holding a NaN or an inf."""
    return [
        k for k, v in state_dict.items()
        if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]


def model_from(ckpt: Checkpoint, where: str | Path = "checkpoint") -> AutoEncoder:
    """The AutoEncoder a checkpoint dict describes, with its weights (train mode, on the CPU).

    Built on the ``meta`` device first: its size is capped and its shapes are compared with the
    stored weights before anything is allocated. ``where`` names the file in error messages."""
    kind = ckpt[CHECKPOINT_KEY].get("kind", AE_KIND)
    if kind != AE_KIND:  # e.g. what `regae finetune` writes: EncoderClassifier.from_checkpoint reads those
        hint = (": regae finetune wrote it; load it with EncoderClassifier.from_checkpoint" if kind == CLASSIFIER_KIND
                else "")
        raise CheckpointError(f"checkpoint {where} holds a {str(kind)[:40]!r} model, not an autoencoder{hint}")
    # LightningCLI adds bookkeeping keys such as `_instantiator`; they are not constructor arguments
    hparams = {str(k): v for k, v in ckpt.get("hyper_parameters", {}).items() if not str(k).startswith("_")}
    try:
        with torch.device("meta"):
            skeleton = AutoEncoder(**hparams)
    except (ConfigError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {where} has unusable hyperparameters: {' '.join(str(exc).split())[:300]}") from None
    own, stored = skeleton.state_dict(), ckpt["state_dict"]
    wrong = sorted(set(own) ^ set(stored)) + [k for k in own if k in stored and own[k].shape != stored[k].shape]
    if wrong:
        raise CheckpointError(f"checkpoint {where} does not match its own hyperparameters: {len(wrong)} tensors differ "
                              f"in name or shape, e.g. {wrong[0]}")
    if bad := non_finite_tensors(ckpt["state_dict"]):
        raise CheckpointError(f"checkpoint {where} holds non-finite weights (NaN or inf) in {', '.join(bad[:3])}"
                              f"{' ...' if len(bad) > 3 else ''}")
    model = AutoEncoder(**hparams)
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

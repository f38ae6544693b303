"""A checkpoint's card: how it was trained, read from the checkpoint file itself. No Gradio.

A regae checkpoint holds the model's hyperparameters, ``global_step`` and ``epoch`` (Lightning's
epoch counter when it was saved) and, when the data module was saved too,
``datamodule_hyper_parameters``. It does not hold the name of the ``--config`` preset, so the
card names the packaged preset whose model settings differ from the checkpoint's in the fewest
values, and lists those values (e.g. ``sparse`` with ``widths=[8, 16, 32]``). A checkpoint
that carries ``{"demo_card": {"preset": NAME}}`` (``demo/train_checkpoints.sh`` writes it) is
taken at its word. Test PSNR and the code classifier's accuracy are not stored in checkpoints;
:mod:`demo.insight` measures them at start-up (:mod:`demo.cache` keeps them for the next start).
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from regae.checkpoints.read import read_checkpoint

IGNORED = ("seed", "history_every", "input_shape")  # bookkeeping or the data's (the card's data column)


@dataclass(frozen=True)
class Card:
    name: str
    preset: str | None  # the packaged preset it matches best (or the one it names)
    preset_stored: bool  # True: named in the checkpoint; False: inferred from its hyperparameters
    overrides: dict[str, Any] = field(default_factory=dict)  # hyperparameters that differ from the preset
    hparams: dict[str, Any] = field(default_factory=dict)
    step: int | None = None
    epoch: int | None = None
    data: dict[str, Any] | None = None  # datamodule hyperparameters, if stored


def _number(v: Any) -> Any:
    """YAML 1.1 reads ``1e-4`` as a string: compare numbers as numbers."""
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return v
    return float(v)


def _normal(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _normal(x) for k, x in sorted(v.items())}
    if isinstance(v, (list, tuple)):
        return [_normal(x) for x in v]
    return _number(v)


@functools.lru_cache(maxsize=1)
def model_defaults() -> dict[str, Any]:
    """AutoEncoder's constructor defaults (what an unset hyperparameter means)."""
    from regae.model.autoencoder import AutoEncoder

    params = inspect.signature(AutoEncoder.__init__).parameters
    return {k: p.default for k, p in params.items() if k != "self" and p.default is not inspect.Parameter.empty}


@functools.lru_cache(maxsize=1)
def preset_models() -> dict[str, dict[str, Any]]:
    """name -> the ``model:`` section of each packaged ``--config`` preset."""
    from regae.configs import presets

    out = {}
    for name, path in presets().items():
        out[name] = (yaml.safe_load(path.read_text()) or {}).get("model") or {}
    return out


def differences(hparams: dict[str, Any], preset: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's values that differ from what ``preset`` (plus the defaults) would give."""
    defaults = model_defaults()
    keys = (set(hparams) | set(preset)) & set(defaults) - set(IGNORED)
    out = {}
    for k in sorted(keys):
        mine = hparams.get(k, defaults[k])
        if _normal(mine) != _normal(preset.get(k, defaults[k])):
            out[k] = mine
    return out


def closest_preset(hparams: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(preset, overrides) for the packaged preset with the fewest differing values (ties: by name)."""
    scored = sorted((len(d), name, d) for name, d in
                    ((n, differences(hparams, m)) for n, m in preset_models().items()))
    if not scored:
        return None, {}
    _, name, diff = scored[0]
    return name, diff


def read_card(name: str, path: str | Path) -> Card:
    """The card of the checkpoint at ``path`` (``CheckpointError`` if it is unusable)."""
    return card_from(name, read_checkpoint(path))


def card_from(name: str, ckpt: dict[str, Any]) -> Card:
    """The card of a checkpoint dict already read by :func:`regae.checkpoints.read.read_checkpoint`."""
    hparams = {k: v for k, v in (ckpt.get("hyper_parameters") or {}).items() if not k.startswith("_")}
    stored = (ckpt.get("demo_card") or {}).get("preset")
    if stored in preset_models():
        preset, overrides = stored, differences(hparams, preset_models()[stored])
    else:
        preset, overrides = closest_preset(hparams)
    data = ckpt.get("datamodule_hyper_parameters")
    return Card(name, preset, stored is not None and stored == preset, overrides, hparams,
                ckpt.get("global_step"), ckpt.get("epoch"), dict(data) if data else None)


def describe_model(hp: dict[str, Any]) -> str:
    """One line: architecture, code, regularizers, loss and optimiser, e.g.
    ``unet [8, 16, 32], d=32 sigmoid; kl(rho=0.05) ×0.001; mse, adam lr 0.001``."""
    d = model_defaults()
    get = lambda k: hp.get(k, d.get(k))  # noqa: E731
    regs = []
    for r in get("regularizers") or []:
        extra = ", ".join(f"{k}={v}" for k, v in r.items() if k not in ("name", "weight"))
        regs.append(f"{r.get('name')}{f'({extra})' if extra else ''} ×{r.get('weight')}")
    widths = f" {list(get('widths'))}" if get("widths") else ""
    latent = f"d={get('latent_dim')}" if get("latent_dim") else "d=default"
    parts = [f"{get('arch')}{widths}, {latent} {get('latent_activation')}"]
    parts.append("; ".join(regs) if regs else "no regularizer")
    if get("corrupt"):
        parts.append(f"input noise {get('corrupt')}")
    parts.append(f"{get('loss')}, {get('optimizer')} lr {get('lr')}")
    return "; ".join(parts)


def training_line(card: Card) -> str:
    """``1,200 steps (epoch 4)``, plus batch size and images when the data settings are stored. The
    epoch is counted from 1 (Lightning stores the 0-based index of the epoch the step belongs to)."""
    if card.step is None:
        return "steps not stored"
    line = f"{card.step:,} steps (epoch {card.epoch + 1})" if card.epoch is not None else f"{card.step:,} steps"
    if card.data and card.data.get("batch_size"):
        line += f", batch {card.data['batch_size']}"
        if card.data.get("limit_train"):
            line += f", {card.data['limit_train']:,} training images"
    return line


def preset_line(card: Card) -> str:
    """``sparse`` / ``≈ sparse, widths=[8, 16, 32]`` (inferred) / ``unknown``."""
    if card.preset is None:
        return "unknown"
    text = f"`{card.preset}`" if card.preset_stored else f"≈ `{card.preset}`"
    if card.overrides:
        text += " with " + ", ".join(f"{k}={v}" for k, v in card.overrides.items())
    return text

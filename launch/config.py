"""The training config of a launch: parsed and validated locally, before anything is queued.

The same parser as ``regae fit`` (``RegaeCLI``) reads ``--config NAME|PATH`` and the
``--model.* / --data.* / --trainer.* / --checkpoint.*`` overrides, the model and data module
are built once here (so a bad value fails on the login node with one line), and the result is
written as one complete YAML file per run: the job trains from exactly that file.

Sweeps are a grid over dotted keys of that resolved config; list items are addressed by their
index (``model.regularizers.0.weight``)::

    grid({"a": [1, 2], "b": [3]}) == [{"a": 1, "b": 3}, {"a": 2, "b": 3}]
"""

from __future__ import annotations

import argparse
import copy
import itertools
import logging
import warnings
from pathlib import Path
from typing import Any

import yaml
from lightning.pytorch.cli import LightningArgumentParser

from regae.configs import resolve_presets
from regae.data.datamodule import MNISTDataModule
from regae.errors import ConfigError, RegaeError
from regae.model.autoencoder import AutoEncoder
from regae.training.lightning_cli import RegaeCLI


class _ParseOnlyCLI(RegaeCLI):
    """``RegaeCLI`` that parses and builds model + data but no Trainer (no GPU needed here)."""

    def instantiate_trainer(self, **kwargs: Any) -> None:
        return None


def _parse(argv: list[str]) -> tuple[LightningArgumentParser, Any]:
    seed_log = logging.getLogger("lightning.fabric.utilities.seed")
    level = seed_log.level
    try:
        seed_log.setLevel(logging.WARNING)  # "Seed set to 0" is noise on the login node
        with warnings.catch_warnings():  # sys.argv holds the launcher's own options, on purpose
            warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter.*")
            cli = _ParseOnlyCLI(
                AutoEncoder, MNISTDataModule, seed_everything_default=0, run=False, args=argv,
                trainer_defaults={"default_root_dir": "runs/default"}, parser_kwargs={"exit_on_error": False},
            )
    except argparse.ArgumentError as exc:
        first = " ".join(str(exc).split())
        raise ConfigError(f"invalid training config: {first}") from None
    except RegaeError as exc:
        raise ConfigError(f"invalid training config: {exc}") from None
    except (TypeError, ValueError) as exc:  # a class rejected a value jsonargparse let through
        raise ConfigError(f"invalid training config: {exc}") from None
    finally:
        seed_log.setLevel(level)
    return cli.parser, cli.config


def resolve(fit_argv: list[str]) -> dict[str, Any]:
    """The full config (plain dict) that ``regae fit <fit_argv>`` would train with, validated."""
    parser, config = _parse(resolve_presets(fit_argv))
    return yaml.safe_load(parser.dump(config, skip_none=False))


def validate(config: dict[str, Any], scratch: Path) -> None:
    """Parse ``config`` again the way the job will (from a file) and build model + data."""
    scratch.parent.mkdir(parents=True, exist_ok=True)
    write_config(config, scratch)
    try:
        _parse(["--config", str(scratch)])
    finally:
        scratch.unlink(missing_ok=True)


def write_config(config: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


# -- sweeps -------------------------------------------------------------------------------
def parse_value(text: str) -> Any:
    """A sweep value: YAML scalar/list/dict, with plain floats like ``1e-5`` read as floats."""
    try:
        return float(text) if any(c in text for c in ".eE") and not text.startswith(("[", "{")) else yaml.safe_load(text)
    except ValueError:
        return yaml.safe_load(text)


def parse_sweeps(specs: list[str]) -> dict[str, list[Any]]:
    """``["model.lr=1e-3,1e-2", "data.batch_size=64,128"]`` -> ``{"model.lr": [0.001, 0.01], ...}``."""
    out: dict[str, list[Any]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip().removeprefix("--")
        if not sep or not key or not values.strip():
            raise ConfigError(f"Expected --sweep KEY=V1,V2,..., got {spec!r}.")
        if key in out:
            raise ConfigError(f"--sweep {key} given twice.")
        out[key] = [parse_value(v.strip()) for v in _split_top_level(values)]
    return out


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets, so ``[32,16],[64]`` is two values."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return parts + [cur]


def grid(sweeps: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Cartesian product of the sweep values, first key varying slowest; ``[{}]`` if none."""
    keys = list(sweeps)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(sweeps[k] for k in keys))]


def set_path(config: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of ``config`` with ``dotted`` (dict keys and list indices) set to ``value``."""
    out = copy.deepcopy(config)
    node: Any = out
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"sweep key {dotted!r}: {'.'.join(parts[:i]) or 'config'} has {len(node)} items, "
                                  f"no index {part!r}")
            if last:
                node[int(part)] = value
            node = node[int(part)]
        elif isinstance(node, dict):
            if part not in node:
                known = ", ".join(sorted(node)[:12])
                raise ConfigError(f"sweep key {dotted!r}: no {part!r} in {'.'.join(parts[:i]) or 'config'} "
                                  f"(keys: {known})")
            if last:
                node[part] = value
            node = node[part]
        else:
            raise ConfigError(f"sweep key {dotted!r}: {'.'.join(parts[:i])} is a value, not a section")
    return out


def run_label(point: dict[str, Any]) -> str:
    """A short directory-safe label of a sweep point: ``weight=0.0001-lr=0.01``."""
    bits = [f"{key.split('.')[-1]}={value}" for key, value in point.items()]
    label = "-".join(bits).replace("/", "_").replace(" ", "")
    return "".join(c if c.isalnum() or c in "=-_.," else "_" for c in label)[:80]

"""Sweeps: a grid over dotted keys of a resolved training config.

The config itself is resolved, validated and written by :mod:`regae.training.fit` (the parser of
``regae fit``: a bad value fails on the login node with one line, and each run's job trains from
exactly the complete YAML file written for it). List items are addressed by their index
(``model.regularizers.0.weight``)::

    grid({"a": [1, 2], "b": [3]}) == [{"a": 1, "b": 3}, {"a": 2, "b": 3}]
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import yaml

from regae.errors import ConfigError


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

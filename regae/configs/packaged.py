"""The packaged presets: ``regae fit --config NAME`` takes the YAML file ``regae/configs/NAME.yaml``.

Torch-free (``regae presets`` and ``regae --help`` list them at once). Each file's first line is a
``# comment`` that describes it in one line.
"""

from __future__ import annotations

import os
from pathlib import Path

from regae.errors import RegaeError

PRESET_DIR = Path(__file__).parent


def presets() -> dict[str, Path]:
    """name -> path of every packaged preset, sorted by name."""
    return dict(sorted((p.stem, p) for p in PRESET_DIR.glob("*.yaml")))


def preset_summary(path: Path) -> str:
    """The description a preset's leading ``#`` lines give, joined into one line ('' if none)."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").strip())
    return " ".join(x for x in lines if x)


def preset_path(value: str, known: dict[str, Path] | None = None) -> str:
    """A ``--config`` value as a file path: an existing file as it is, a preset name as its file."""
    known = presets() if known is None else known
    if os.path.exists(value):
        return value
    name = value.removesuffix(".yaml")
    if name in known:
        return str(known[name])
    if "/" not in value and not value.endswith((".yaml", ".yml", ".json")):
        raise RegaeError(f"unknown preset {value!r}; presets: {', '.join(known)} (or give a config file path)")
    raise RegaeError(f"config file not found: {value}")


def resolve_presets(argv: list[str]) -> list[str]:
    """``argv`` with every ``--config NAME`` / ``-c NAME`` / ``--config=NAME`` given as a file path."""
    known, out, i = presets(), [], 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--config", "-c") and i + 1 < len(argv):
            out += [arg, preset_path(argv[i + 1], known)]
            i += 2
            continue
        if arg.startswith("--config="):
            arg = "--config=" + preset_path(arg.split("=", 1)[1], known)
        out.append(arg)
        i += 1
    return out

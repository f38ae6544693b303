"""Checks of a ``regae fit|validate|test|predict`` command line that need neither torch nor Lightning.

They run before Lightning is imported (5-7 s on a 2-core machine), so these mistakes are one
line at once:

* a ``--config`` file that cannot be read, is not valid YAML, is not a mapping, or has an
  unknown top-level key or an unknown key under ``model:`` / ``data:``;
* an unknown option group (``--modle.lr``) or an unknown ``--model.*`` / ``--data.*`` option;
* YAML that would cost more than it says, in a config file or an option value (jsonargparse reads
  both as YAML): aliases (``*name``: a kilobyte of "billion laughs" expands without bound),
  nesting deeper than :data:`MAX_YAML_DEPTH`, more than :data:`MAX_YAML_BYTES`;
* a class to import (``class_path:``, ``--trainer.callbacks``, ``--trainer.logger``, ...) from a
  module outside :data:`TRUSTED_MODULES` (jsonargparse imports it before it can refuse it):
  ``REGAE_TRUSTED_MODULES=mypkg,other`` adds yours.

The ``model`` / ``data`` option names are the ``__init__`` parameters of
:class:`~regae.model.autoencoder.AutoEncoder` and :class:`~regae.data.datamodule.ImageDataModule`, read
from their source with :mod:`ast` because importing them imports Lightning
(``tests/regae/cli/test_preflight.py`` checks them against ``inspect.signature``).

Left to LightningCLI, after the import and still before any training: option *values*
(types, ranges, regularizer names, shapes: the classes check them when they are built),
``--trainer.*`` / ``--checkpoint.*`` option names (Lightning's signatures), and config
files given to one group (``--model file.yaml``).
"""

from __future__ import annotations

import ast
import difflib
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

from regae.errors import ConfigError

SUBCOMMANDS = ("fit", "validate", "test", "predict")
#: every top-level key LightningCLI accepts for those subcommands (Lightning 2.4 to 2.6);
#: tests/regae/cli/test_preflight.py checks that the real parser has no other
TOP_LEVEL = frozenset({
    "config", "print_config", "seed_everything", "trainer", "model", "data", "checkpoint", "optimizer",
    "lr_scheduler", "ckpt_path", "weights_only", "verbose", "return_predictions",
})
#: option group -> (source file under regae/, class whose __init__ parameters are the group's keys)
CLASSES = {"model": ("model/autoencoder.py", "AutoEncoder"), "data": ("data/datamodule.py", "ImageDataModule")}
_PACKAGE = Path(__file__).parent.parent  # regae/
#: limits on YAML a user gives (config files, option values): far above any real config (the presets: < 1 KB, depth 3)
MAX_YAML_BYTES = 1 << 20
MAX_YAML_DEPTH = 32
#: modules a configuration may name classes from; REGAE_TRUSTED_MODULES (comma-separated) adds others
TRUSTED_MODULES = ("lightning", "torch", "torchmetrics", "regae")
#: trainer options whose value may be a class to import
CLASS_OPTIONS = frozenset({"callbacks", "logger", "plugins", "strategy", "profiler", "accelerator"})
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


@cache
def init_params(group: str) -> frozenset[str] | None:
    """The keyword parameters of ``group``'s class ``__init__`` (None: it takes ``**kwargs``)."""
    rel, name = CLASSES[group]
    tree = ast.parse((_PACKAGE / rel).read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)
    init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    if init.args.kwarg is not None:
        return None
    return frozenset(a.arg for a in [*init.args.args, *init.args.kwonlyargs] if a.arg != "self")


def check_trainer_argv(argv: list[str]) -> None:
    """Raise :class:`ConfigError` for the mistakes listed in the module docstring.

    ``argv`` is the command line after ``regae`` with presets already resolved to paths.
    """
    rest = argv[1:]
    if any(a in ("-h", "--help") for a in rest):
        return
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg in ("-c", "--config") and i + 1 < len(rest):
            check_config_file(rest[i + 1])
            i += 2
            continue
        if arg.startswith("--config="):
            check_config_file(arg.split("=", 1)[1])
        elif arg.startswith("--") and len(arg) > 2:
            _check_option(arg)
            name, eq, value = arg[2:].partition("=")
            if not eq and i + 1 < len(rest) and not rest[i + 1].startswith("--"):
                value, i = rest[i + 1], i + 1
            if eq or value:
                check_yaml_text(value, f"option --{name}")
                _check_class_option(name, value)
        i += 1


def check_yaml_text(text: str, where: str) -> None:
    """Refuse YAML whose parse could cost more than its size says (module docstring): one token scan,
    linear in the text, before any loader builds anything."""
    import yaml

    if len(text.encode("utf-8", "replace")) > MAX_YAML_BYTES:
        raise ConfigError(f"{where} is larger than {MAX_YAML_BYTES // 1024} KiB; regae configs are a few KB")
    depth = 0
    opens = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken, yaml.FlowMappingStartToken,
             yaml.FlowSequenceStartToken)
    closes = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, yaml.AliasToken):
                raise ConfigError(f"{where}: YAML aliases (*{token.value}) are not allowed in regae configs "
                                  "(they can expand without bound); write the values out")
            depth += isinstance(token, opens) - isinstance(token, closes)
            if depth > MAX_YAML_DEPTH:
                raise ConfigError(f"{where}: YAML nested deeper than {MAX_YAML_DEPTH} levels")
    except yaml.YAMLError:
        return  # not valid YAML: the loader says where, with its own message


def trusted_modules() -> tuple[str, ...]:
    extra = os.environ.get("REGAE_TRUSTED_MODULES", "")
    return TRUSTED_MODULES + tuple(m.strip() for m in extra.split(",") if m.strip())


def _check_class_path(path: str, where: str) -> None:
    top = path.split(".", 1)[0]
    if top not in trusted_modules():
        raise ConfigError(f"{where} names {path!r}, which would import module {top!r}: regae imports classes only "
                          f"from {', '.join(TRUSTED_MODULES)} (REGAE_TRUSTED_MODULES={top} allows it)")


def _check_class_option(name: str, value: str) -> None:
    group, _, key = name.partition(".")
    key = key.rstrip("+")
    if key.endswith("class_path") or (group == "trainer" and key.split(".", 1)[0] in CLASS_OPTIONS):
        if _DOTTED.match(value.strip()):
            _check_class_path(value.strip(), f"option --{name}")


def _class_paths(node: Any) -> list[str]:
    """Every ``class_path`` value in a parsed YAML tree."""
    if isinstance(node, dict):
        own = [str(v) for k, v in node.items() if k == "class_path" and isinstance(v, str)]
        return own + [p for v in node.values() for p in _class_paths(v)]
    if isinstance(node, list):
        return [p for v in node for p in _class_paths(v)]
    return []


def _check_option(arg: str) -> None:
    name = arg[2:].split("=", 1)[0]
    group, _, key = name.partition(".")
    group, key = group.rstrip("+"), key.split(".", 1)[0].rstrip("+")
    if group not in TOP_LEVEL:
        raise ConfigError(f"unknown option --{name}{_suggest(group, TOP_LEVEL, '--')}")
    if key and key != "help":
        _check_key(group, key, f"option --{name}", f"--{group}.")


def _check_key(group: str, key: str, what: str, prefix: str) -> None:
    allowed = init_params(group) if group in CLASSES else None
    if allowed is not None and key not in allowed:
        raise ConfigError(f"unknown {what}{_suggest(key, allowed, prefix)}")


def _suggest(word: str, choices: frozenset[str], prefix: str) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    if close:
        return f"; did you mean {prefix}{close[0]}? (regae fit --help lists every option)"
    return f"; expected one of: {', '.join(prefix + c for c in sorted(choices))}"


def check_config_file(path: str) -> None:
    """A ``--config`` file: readable, YAML, a mapping with known keys (model/data keys too)."""
    import yaml  # PyYAML: a few ms; LightningCLI reads the file again with its own loader

    try:
        if Path(path).stat().st_size > MAX_YAML_BYTES:
            raise ConfigError(f"config file {path} is larger than {MAX_YAML_BYTES // 1024} KiB; regae configs are a few KB")
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    check_yaml_text(text, f"config file {path}")
    try:
        config: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"config file {path} is not valid YAML{where}: {problem}") from None
    if config is None:
        return
    if not isinstance(config, dict):
        raise ConfigError(f"config file {path} must be a mapping of options (trainer:, model:, data:, ...), "
                          f"got a {type(config).__name__}")
    for class_path in _class_paths(config):
        _check_class_path(class_path, f"config file {path}")
    for key, section in config.items():
        if key not in TOP_LEVEL:
            raise ConfigError(f"config file {path}: unknown key {key!r}{_suggest(str(key), TOP_LEVEL, '')}")
        if key in CLASSES and isinstance(section, dict) and not {"class_path", "init_args"} & set(section):
            for sub in section:
                _check_key(key, str(sub), f"key {key}.{sub} in config file {path}", "")

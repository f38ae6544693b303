"""Reading back what the launcher and its jobs wrote: ``launch.json`` and each run's ``status.json``.

Both are plain files in a folder anyone may edit, copy, truncate or replace, and what
``python -m launch resume`` reads back goes into a Slurm batch script again (the job name,
``#SBATCH`` options, the log folder). So every value is checked before it is used, exactly as
the same option is when typed (:func:`launch.options.check_options`), and a file that is not
what the launcher writes (not JSON, a list, a missing entry, a wrong type, far too large, not a
regular file) gives one line naming the file and what is wrong (:class:`OutputError`), or
:class:`ConfigError` for an option value the command line would refuse too.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import fields
from pathlib import Path
from typing import Any

from launch.options import CLUSTERS, CONTROL_RE, LaunchOptions, check_name, check_options
from regae.errors import ConfigError, OutputError

#: far above what a launch writes (about 1 KB per run); a larger file is not one of ours
MAX_LAUNCH_BYTES = 16 << 20
#: a status.json holds a state, a step and a few dozen metrics: a few KB
MAX_STATUS_BYTES = 1 << 20


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type: object, array, string, number, true/false, null."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else "a number"


def read_json(path: Path, max_bytes: int) -> Any:
    """The parsed JSON of the regular file ``path`` of at most ``max_bytes``, else ``OutputError``."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise OutputError(f"{path}: not a regular file")
        if info.st_size > max_bytes:
            raise OutputError(f"{path}: {info.st_size} bytes, more than the launcher writes (at most {max_bytes})")
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise OutputError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > max_bytes:  # it grew since the stat
        raise OutputError(f"{path}: more than {max_bytes} bytes, more than the launcher writes")
    try:
        return json.loads(data)
    except RecursionError:
        raise OutputError(f"{path}: not JSON the launcher writes (nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer of 5000 digits
        raise OutputError(f"{path}: not JSON ({' '.join(str(exc).split())[:200]})") from None


def _text(path: Path, where: str, value: Any, max_len: int = 4096) -> str:
    """``value`` if it is a string without control characters (it may reach a script or a terminal)."""
    if not isinstance(value, str):
        raise OutputError(f"{path}: {where} must be a string, got {json_type(value)} {_short(value)}")
    if CONTROL_RE.search(value) or len(value) > max_len:
        raise OutputError(f"{path}: {where} must be text of at most {max_len} characters without control "
                          f"characters, got {_short(value)}")
    return value


def check_launch(record: Any, path: Path) -> dict[str, Any]:
    """``record`` if it has the shape :func:`launch.submit.launch` writes, else ``OutputError``."""
    if not isinstance(record, dict):
        raise OutputError(f"{path}: expected a JSON object (a launch record), got {json_type(record)}")
    for key, kind, name in (("cluster", str, "a string"), ("name", str, "a string"),
                            ("submitit_folder", str, "a string"), ("options", dict, "an object"),
                            ("runs", list, "an array")):
        if key not in record:
            raise OutputError(f"{path}: no {key!r} entry, not a launch record")
        if not isinstance(record[key], kind):
            raise OutputError(f"{path}: {key!r} must be {name}, got {json_type(record[key])} {_short(record[key])}")
    if record["cluster"] not in CLUSTERS:
        raise OutputError(f"{path}: 'cluster' must be one of {', '.join(CLUSTERS)}, got {_short(record['cluster'])}")
    try:
        check_name(record["name"], "'name'")
    except ConfigError as exc:
        raise OutputError(f"{path}: {exc}") from None
    _text(path, "'submitit_folder'", record["submitit_folder"])
    if not record["runs"]:
        raise OutputError(f"{path}: 'runs' is empty, not a launch record")
    for i, run in enumerate(record["runs"]):
        where = f"runs[{i}]"
        if not isinstance(run, dict):
            raise OutputError(f"{path}: {where} must be an object, got {json_type(run)} {_short(run)}")
        for key in ("name", "dir", "job_id", "point"):
            if key not in run:
                raise OutputError(f"{path}: {where} has no {key!r} entry")
        _text(path, f"{where}.name", run["name"], 255)
        _text(path, f"{where}.dir", run["dir"])
        _text(path, f"{where}.job_id", run["job_id"], 255)
        if not isinstance(run["point"], dict):
            raise OutputError(f"{path}: {where}.point must be an object, got {json_type(run['point'])}")
        if not isinstance(run.get("jobs", []), list):
            raise OutputError(f"{path}: {where}.jobs must be an array, got {json_type(run['jobs'])}")
        for job in run.get("jobs", []):
            _text(path, f"{where}.jobs[]", job, 255)
    if not isinstance(record.get("resumed", []), list):
        raise OutputError(f"{path}: 'resumed' must be an array, got {json_type(record['resumed'])}")
    return record


def read_launch_file(path: Path) -> dict[str, Any]:
    """The checked launch record in ``path`` (``launch.json``)."""
    return check_launch(read_json(path, MAX_LAUNCH_BYTES), path)


_INT = ("nodes", "gpus_per_node", "cpus_per_task", "time_min", "signal_delay_s", "max_requeue")
_OPTIONAL_INT = ("tasks_per_node", "max_parallel")
_OPTIONAL_TEXT = ("dir", "name", "partition", "mem", "account", "qos")
_TEXT_LISTS = ("sweep", "fit_argv")


def options_from_record(record: dict[str, Any], path: Path) -> LaunchOptions:
    """The :class:`LaunchOptions` of a checked launch record, each value type-checked here and
    value-checked by :func:`launch.options.check_options` (``ConfigError`` naming the file)."""
    known = {f.name for f in fields(LaunchOptions)}
    values = {k: v for k, v in record["options"].items() if k in known}
    for key, value in values.items():
        where = f"options.{key}"
        if key in _INT or key in _OPTIONAL_INT:
            if not (isinstance(value, int) and not isinstance(value, bool)) and not (value is None and key in _OPTIONAL_INT):
                raise OutputError(f"{path}: {where} must be an integer, got {json_type(value)} {_short(value)}")
        elif key in _OPTIONAL_TEXT or key == "cluster":
            if not isinstance(value, str) and not (value is None and key != "cluster"):
                raise OutputError(f"{path}: {where} must be a string, got {json_type(value)} {_short(value)}")
        elif key in _TEXT_LISTS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise OutputError(f"{path}: {where} must be an array of strings, got {_short(value)}")
        elif key == "sbatch":
            if not isinstance(value, dict):
                raise OutputError(f"{path}: {where} must be an object, got {json_type(value)} {_short(value)}")
        elif key == "wait" and not isinstance(value, bool):
            raise OutputError(f"{path}: {where} must be true or false, got {_short(value)}")
    try:
        return check_options(LaunchOptions(**values))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def check_status(status: Any, path: Path) -> dict[str, Any]:
    """``status`` if it has the shape a run's ``status.json`` has (:class:`launch.job.RunRecorder`)."""
    if not isinstance(status, dict):
        raise OutputError(f"{path}: expected a JSON object (a run status), got {json_type(status)}")
    if "state" in status:
        _text(path, "'state'", status["state"], 64)
    for key in ("global_step", "epoch"):
        value = status.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise OutputError(f"{path}: {key!r} must be an integer >= 0, got {json_type(value)} {_short(value)}")
    metrics = status.get("metrics", {})
    if not isinstance(metrics, dict):
        raise OutputError(f"{path}: 'metrics' must be an object, got {json_type(metrics)} {_short(metrics)}")
    for name, value in metrics.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (number or value is None or value in ("inf", "-inf")):
            raise OutputError(f"{path}: metric {_short(name)} must be a number, got {json_type(value)} {_short(value)}")
    if "error" in status and not isinstance(status["error"], str):
        raise OutputError(f"{path}: 'error' must be a string, got {json_type(status['error'])}")
    return status


def read_status_file(path: Path) -> dict[str, Any]:
    """The checked run status in ``path``; ``{}`` if there is none yet (the run has not started)."""
    if not os.path.lexists(path):
        return {}
    return check_status(read_json(path, MAX_STATUS_BYTES), path)

"""Command-line options of ``python -m launch``: cluster options here, the rest goes to ``regae fit``.

Every option not listed here (``--config``, ``--model.*``, ``--data.*``, ``--trainer.*``,
``--checkpoint.*``, ...) is passed through unchanged to the ``regae fit`` parser.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field

from regae.errors import ConfigError

CLUSTERS = ("slurm", "local", "debug")
#: a launch name is one folder name (the default folder is runs/launch/NAME) and the Slurm job name
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
NAME_MAX = 128
NAME_RULE = (f"one folder name of ASCII letters, digits, '.', '_', '-', not starting with '.' or '-', "
             f"at most {NAME_MAX} characters")
#: an ``--sbatch`` key is a Slurm long option: submitit writes it unquoted as ``#SBATCH --KEY=VALUE``
SBATCH_KEY_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
#: ASCII control characters: a newline (or CR, tab, NUL, ESC...) in a value would end the batch
#: script's ``#SBATCH`` comment line, and what follows would run as a shell line
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
#: options whose text lands in the batch script (``#SBATCH --partition='...'`` etc.) or its log paths
TEXT_OPTIONS = ("dir", "partition", "mem", "account", "qos")


@dataclass
class LaunchOptions:
    cluster: str = "slurm"
    dir: str | None = None
    name: str | None = None
    partition: str | None = None
    nodes: int = 1
    gpus_per_node: int = 0
    tasks_per_node: int | None = None  # default: gpus_per_node, or 1 on CPU
    cpus_per_task: int = 1
    mem: str | None = None
    time_min: int = 60
    account: str | None = None
    qos: str | None = None
    sbatch: dict[str, str] = field(default_factory=dict)
    sweep: list[str] = field(default_factory=list)
    max_parallel: int | None = None
    signal_delay_s: int = 120
    max_requeue: int = 3
    wait: bool = False
    fit_argv: list[str] = field(default_factory=list)

    @property
    def devices(self) -> int:
        """Lightning processes per node == Slurm tasks per node."""
        return self.tasks_per_node or max(self.gpus_per_node, 1)


def parse_time(text: str) -> int:
    """Slurm time limit -> whole minutes: ``90``, ``1:30:00``, ``2-00:00:00``, ``45:00`` (MM:SS)."""
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text.strip())
    if not m:
        raise ConfigError(f"Expected --time as MINUTES, MM:SS, HH:MM:SS or D-HH:MM:SS, got {text!r}.")
    days, a, b, c = (int(g) if g else None for g in m.groups())
    if b is None:
        minutes = a if days is None else a * 60  # D-HH means hours after a day count
    elif c is None:
        minutes = a * 60 + b if days is not None else a + (b > 0)  # D-HH:MM or MM:SS
    else:
        minutes = a * 60 + b + (c > 0)
    minutes += (days or 0) * 24 * 60
    if minutes < 1:
        raise ConfigError(f"Expected --time of at least 1 minute, got {text!r}.")
    return minutes


def check_text(option: str, value: str) -> str:
    """``value`` unless it holds a control character (``ConfigError`` naming ``option``, value shown with repr)."""
    if CONTROL_RE.search(value):
        raise ConfigError(f"{option} must not contain control characters (newline, tab, ...): they would end a "
                          f"line of the Slurm batch script, got {value!r}")
    return value


def check_name(value: str, option: str = "--name") -> str:
    """``value`` if it is a safe launch name: :data:`NAME_RULE`, else ``ConfigError`` saying what is allowed."""
    if not isinstance(value, str) or len(value) > NAME_MAX or not NAME_RE.fullmatch(value):
        raise ConfigError(f"{option} must be {NAME_RULE}, got {value!r}")
    return value


def safe_name(text: str) -> str:
    """A launch name made from ``text`` (a config file's stem): disallowed characters become '_'."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip(".-")[:NAME_MAX]
    return name or "run"


def check_sbatch(sbatch: dict[str, str | bool]) -> dict[str, str | bool]:
    """``--sbatch`` entries as submitit writes them (``#SBATCH --key=value``, the key unquoted): each key
    a Slurm long option, each value ``True`` (a flag) or text without control characters."""
    for key, value in sbatch.items():
        if not isinstance(key, str) or not SBATCH_KEY_RE.fullmatch(key):
            raise ConfigError(f"--sbatch KEY must be a Slurm long option (letters, digits, '-', '_'), got {key!r}")
        if value is not True:
            if not isinstance(value, str) or not value:
                raise ConfigError(f"--sbatch {key}: expected text or a flag (KEY=), got {value!r}")
            check_text(f"--sbatch {key}", value)
    return sbatch


def _positive(name: str, value: int | None, allow_zero: bool = False) -> None:
    if value is not None and (value < 0 or (value == 0 and not allow_zero)):
        raise ConfigError(f"Expected --{name} {'>= 0' if allow_zero else '>= 1'}, got {value}.")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m launch", allow_abbrev=False,
        description="Submit `regae fit` to Slurm (or run it locally) with submitit. Options not listed "
                    "here (--config, --model.*, --data.*, --trainer.*, --checkpoint.*) go to `regae fit`.",
        epilog="python -m launch status DIR   prints the state, steps, attempts, last metrics and checkpoint of "
               "every run; python -m launch resume DIR   resubmits its unfinished runs from their last.ckpt.",
    )
    a = p.add_argument
    a("--cluster", choices=CLUSTERS, default="slurm", help="slurm; local (subprocesses); debug (in this process)")
    a("--dir", help="launch folder (default runs/launch/NAME); logs, configs, checkpoints go here")
    a("--name", help="job name and default folder name (default: the --config preset/file name)")
    a("--partition", "-p", help="Slurm partition (default: the cluster's default partition)")
    a("--nodes", "-N", type=int, default=1)
    a("--gpus-per-node", type=int, default=0, help="GPUs per node; 0 trains on CPU")
    a("--tasks-per-node", type=int, help="processes per node (default: --gpus-per-node, or 1 on CPU)")
    a("--cpus-per-task", "-c", type=int, default=1)
    a("--mem", help="memory per node, e.g. 32G")
    a("--time", "-t", default="60", help="time limit: MINUTES or [D-]HH:MM:SS (default 60)")
    a("--account", "-A")
    a("--qos")
    a("--sbatch", action="append", default=[], metavar="KEY=VALUE",
      help="extra #SBATCH option, e.g. --sbatch constraint=a100 --sbatch exclusive= (repeatable)")
    a("--sweep", action="append", default=[], metavar="KEY=V1,V2",
      help="grid over a config value, e.g. model.regularizers.0.weight=1e-5,1e-4 (repeatable: full grid)")
    a("--max-parallel", type=int, help="at most this many sweep runs at once (job array %%N)")
    a("--signal-delay", type=int, default=120, dest="signal_delay_s",
      help="seconds before the time limit at which the job checkpoints and requeues (default 120)")
    a("--max-requeue", type=int, default=3, help="requeues after timeouts before giving up (default 3)")
    a("--wait", action="store_true", help="wait for the jobs and print the status table")
    return p


def parse_options(argv: list[str]) -> LaunchOptions:
    ns, rest = build_parser().parse_known_args(argv)
    sbatch: dict[str, str | bool] = {}
    for item in ns.sbatch:
        check_text("--sbatch", item)
        key, _, value = item.partition("=")
        if not key:
            raise ConfigError(f"Expected --sbatch KEY=VALUE, got {item!r}.")
        sbatch[key.strip().lstrip("-").replace("-", "_")] = value if value else True
    opts = LaunchOptions(
        cluster=ns.cluster, dir=ns.dir, name=ns.name, partition=ns.partition, nodes=ns.nodes,
        gpus_per_node=ns.gpus_per_node, tasks_per_node=ns.tasks_per_node, cpus_per_task=ns.cpus_per_task,
        mem=ns.mem, time_min=parse_time(ns.time), account=ns.account, qos=ns.qos, sbatch=sbatch,
        sweep=ns.sweep, max_parallel=ns.max_parallel, signal_delay_s=ns.signal_delay_s,
        max_requeue=ns.max_requeue, wait=ns.wait, fit_argv=rest,
    )
    return check_options(opts)


def check_options(opts: LaunchOptions) -> LaunchOptions:
    """Every value check of the options, the same for ``python -m launch`` and for the options
    ``python -m launch resume`` reads back from ``launch.json``; returns ``opts``."""
    if opts.cluster not in CLUSTERS:
        raise ConfigError(f"--cluster must be one of {', '.join(CLUSTERS)}, got {opts.cluster!r}")
    if opts.name is not None:
        check_name(opts.name)
    for option in TEXT_OPTIONS:
        value = getattr(opts, option)
        if value is not None:
            check_text(f"--{option}", value)
    check_sbatch(opts.sbatch)
    _positive("time (minutes)", opts.time_min)
    rest = opts.fit_argv
    for name in ("nodes", "cpus_per_task", "tasks_per_node", "max_parallel"):
        _positive(name.replace("_", "-"), getattr(opts, name))
    _positive("gpus-per-node", opts.gpus_per_node, allow_zero=True)
    _positive("signal-delay", opts.signal_delay_s, allow_zero=True)
    _positive("max-requeue", opts.max_requeue, allow_zero=True)
    if opts.gpus_per_node and opts.tasks_per_node not in (None, opts.gpus_per_node):
        raise ConfigError(f"--tasks-per-node {opts.tasks_per_node} must equal --gpus-per-node "
                          f"{opts.gpus_per_node} (one Lightning process per GPU)")
    if opts.cluster != "slurm" and opts.nodes != 1:
        raise ConfigError(f"--nodes {opts.nodes} needs --cluster slurm (local and debug run on one machine)")
    if opts.cluster == "debug" and opts.devices != 1:
        raise ConfigError("--cluster debug runs in this process: use one task (--tasks-per-node 1, "
                          "--gpus-per-node 0 or 1); --cluster local runs several")
    for bad in ("fit", "validate", "test"):
        if bad in rest[:1]:
            raise ConfigError(f"drop the {bad!r} subcommand: python -m launch always runs `regae fit`")
    for arg in rest:
        if arg.startswith("--ckpt_path"):
            raise ConfigError("--ckpt_path is set by the launcher (it resumes from the run's last.ckpt)")
    return opts

"""One ``regae study`` invocation: run the named experiments and write their report sections.

Writes ``OUT/index.md``, ``OUT/metrics.json``, ``OUT/sections.json``, ``OUT/runs.json`` (one record
per invocation: command, machine, level, wall and CPU time, load) and ``OUT/figures/<key>/*.png``
through the one report writer (:func:`regae.reports.writer.write_report`); running experiments one
at a time into the same ``OUT`` accumulates one report. The command line is :mod:`regae.cli.study`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import threading
import time
from pathlib import Path

import torch

from regae.checkpoints.write import atomic_write_json
from regae.errors import ConfigError
from regae.reports.writer import write_report
from regae.study.registry import EXPERIMENTS, experiment, section_key, section_order
from regae.study.runner import StudyContext
from regae.threads.count import set_threads
from regae.training.noise import third_party_noise

TITLE = "regae study"


def machine() -> str:
    """'AMD EPYC, 2 cores' from /proc/cpuinfo (or the platform where there is none)."""
    try:
        model = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                     if ln.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    return f"{model}, {os.cpu_count()} cores"


class LoadSampler:
    """Samples the 1-minute load average every ``every`` seconds in a daemon thread; ``mean()``."""

    def __init__(self, every: float = 30.0) -> None:
        self.samples = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def mean(self) -> float:
        return sum(self.samples) / len(self.samples)

    def stop(self) -> float:
        self._stop.set()
        self.samples.append(os.getloadavg()[0])
        return self.mean()


def run_study(args: argparse.Namespace, level: str, names: list[str], argv: list[str]) -> int:
    """Run the experiments ``names`` and write their sections into ``args.out`` (one report, merged)."""
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {args.device} asked for, but torch sees no CUDA device")
    set_threads(args.threads)
    with third_party_noise():
        return _run(args, level, names, argv)


def _run(args: argparse.Namespace, level: str, names: list[str], argv: list[str]) -> int:
    out = Path(args.out)
    ctx = StudyContext(level, out, device=args.device, seed=args.seed, seeds=args.seeds, cache=args.cache)
    command = "regae study " + shlex.join(argv)
    print(f"regae study: {', '.join(names)} at the {level} level -> {out}")
    sampler, wall0, cpu0 = LoadSampler(), time.perf_counter(), time.process_time()
    run = {"command": command, "machine": machine(), "threads": args.threads, "device": args.device, "level": level,
           "cache": args.cache,
           "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "experiments": {}}
    for name in names:
        t0, c0, n0 = time.perf_counter(), time.process_time(), len(sampler.samples)
        print(f"[{name}] {EXPERIMENTS[name][1]}")
        sections = experiment(name)(ctx)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        load = sum(sampler.samples[n0 - 1:]) / len(sampler.samples[n0 - 1:])
        for s in sections:
            s.metrics["run"] = {"wall_seconds": wall, "cpu_seconds": cpu, "load": load, "level": level,
                                "machine": run["machine"], "command": command}
            s.markdown += (f"\n\n*This section: {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU at a mean load "
                           f"average of {load:.1f} on {run['machine']} ({args.threads} torch thread), "
                           f"{level} level, by `{command}`; models reused from earlier sections of the same "
                           "run or from the cache count only where they were trained.*")
        run["experiments"][name] = {"wall_seconds": wall, "cpu_seconds": cpu, "load": load}
        models = ctx.trained_models()
        run.update(wall_seconds=time.perf_counter() - wall0, cpu_seconds=time.process_time() - cpu0,
                   load=sampler.mean(), models=len(models), models_from_cache=sum(t.cached for t in models),
                   model_train_wall_seconds=sum(t.seconds for t in models),
                   model_train_cpu_seconds=sum(t.cpu_seconds for t in models))
        with locked(out):  # two invocations may write into one OUT at once (e.g. halves of the study in parallel)
            runs = record_run(out, run)
            done = set(json.loads((out / "sections.json").read_text())) if (out / "sections.json").is_file() else set()
            done |= {s.key for s in sections}
            missing = [n for n in EXPERIMENTS if section_key(n) not in done]
            index = write_report(out, sections, TITLE, preface(runs, missing, out), merge=True, order=section_order(),
                                 contents=True, html=False)
        print(f"[{name}] done in {wall:.0f} s wall, {cpu:.0f} s CPU (load {load:.1f})")
    sampler.stop()
    print(f"regae study: {len(names)} experiment(s) in {time.perf_counter() - wall0:.0f} s; report: {index}")
    return 0


@contextlib.contextmanager
def locked(out: Path):
    """An exclusive lock on ``OUT/.lock`` (POSIX advisory; a no-op where fcntl is missing)."""
    out.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with (out / ".lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def record_run(out: Path, run: dict) -> list[dict]:
    """Add or update this invocation's record in ``OUT/runs.json``; return all records."""
    path = out / "runs.json"
    out.mkdir(parents=True, exist_ok=True)
    runs = json.loads(path.read_text()) if path.is_file() else []
    runs = [r for r in runs if r.get("started") != run["started"] or r.get("command") != run["command"]] + [run]
    atomic_write_json(runs, path)
    return runs


def preface(runs: list[dict], missing: list[str] = (), out: Path = Path("OUT")) -> str:
    lines = ["Each section states the budget its numbers come from (epochs, batch, learning rate and schedule, seeds; "
             "chosen from measured learning curves, see `regae/study/budgets.py`), shows its models' learning curves, "
             "and compares models on the same test images with 95 % intervals and paired tests "
             "(`regae/reports/stats.py`). Every number is also in `metrics.json`.",
             "Made by (times are measured on a machine shared with other jobs: the load average says how "
             "shared; CPU time is what the study itself used):"]
    for r in runs:
        cached = r.get("models_from_cache", 0)
        models = (f" It used {r.get('models', 0)} trained models ({cached} from the cache, trained by an earlier "
                  f"invocation); their training took {r.get('model_train_cpu_seconds', 0) / 60:.0f} min CPU, "
                  f"{r.get('model_train_wall_seconds', 0) / 60:.0f} min wall in all (per model: each section's "
                  "training table).") if r.get("models") else ""
        lines.append(f"- `{r['command']}` — {r['level']} level, {', '.join(r['experiments'])}; started {r['started']} "
                     f"on {r['machine']}, {r['threads']} torch thread(s): {r['wall_seconds'] / 60:.0f} min wall, "
                     f"{r['cpu_seconds'] / 60:.0f} min CPU, mean load average {r['load']:.1f}.{models}")
    text = "\n\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:])
    if missing:
        r = runs[-1]
        flag = " --full" if r["level"] == "full" else ("" if r["level"] == "default" else f" --budget {r['level']}")
        text += (f"\n\n**Not yet run here:** {', '.join(missing)}. To add them (models already trained are reused "
                 f"from the cache): `regae study {' '.join(missing)}{flag} --out {out.as_posix()} --cache {r.get('cache') or 'DIR'}`.")
    return text

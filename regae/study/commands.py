"""``regae study NAME... | all``: run study experiments and write their report sections.

Writes ``OUT/index.md``, ``OUT/metrics.json``, ``OUT/sections.json``, ``OUT/runs.json`` (one record
per invocation: command, machine, level, wall and CPU time, load) and ``OUT/figures/<key>/*.png``;
running experiments one at a time into the same ``OUT`` accumulates one report. torch is imported
only once a study runs, so ``regae study --help`` answers at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import threading
import time
from pathlib import Path

from regae.errors import ConfigError
from regae.study.budgets import LEVELS, RECIPES, plan
from regae.study.registry import EXPERIMENTS, section_key, section_order


def parser() -> argparse.ArgumentParser:
    names = "\n".join(f"  {k:14s} {v[1]}" for k, v in EXPERIMENTS.items())
    recipes = "\n".join(f"  {r:13s} " + " | ".join(f"{lv}: {plan(lv, r).epochs} ep x {plan(lv, r).seeds} seed(s)"
                                                    for lv in LEVELS) for r in RECIPES)
    p = argparse.ArgumentParser(
        prog="regae study", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run experiments of the wider autoencoder study and write them as report sections.",
        epilog=f"experiments:\n{names}\n  {'all':14s} every experiment above, in this order\n\n"
               f"budgets (epochs x seeds per recipe and level; see regae/study/budgets.py):\n{recipes}",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="experiment names, or 'all'")
    p.add_argument("--full", action="store_true",
                   help="the reference budget: all 55,000 images, more epochs and seeds (many hours on a CPU)")
    p.add_argument("--budget", choices=list(LEVELS), default=None,
                   help="budget level by name (default: 'default', about an hour of 2 idle CPU cores for 'all')")
    p.add_argument("--seeds", type=int, default=None,
                   help="train every model with this many seeds (default: per recipe, e.g. 3 for the cheap MLPs "
                        "and 1 for the deep AE, conv AEs and VAE)")
    p.add_argument("--out", default="report/study", help="output folder (default: report/study)")
    p.add_argument("--cache", default=None,
                   help="keep every trained model (checkpoint + learning curves) in this folder and reuse it: a "
                        "killed run restarted with the same command resumes model by model")
    p.add_argument("--seed", type=int, default=0, help="first seed of weights, batches and noise (default: 0)")
    p.add_argument("--device", default="cpu", help="torch device to train on: cpu or cuda (default: cpu)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default: 1; the study's nets are small, and on a busy machine "
                        "several threads can be many times slower than one)")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    return p


def resolve_names(names: list[str]) -> list[str]:
    if not names:
        raise ConfigError(f"name an experiment or 'all'; experiments: {', '.join(EXPERIMENTS)}")
    if "all" in names:
        return list(EXPERIMENTS)
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise ConfigError(f"unknown experiment(s) {unknown}; expected 'all' or any of: {', '.join(EXPERIMENTS)}")
    return list(dict.fromkeys(names))


def machine() -> str:
    """'AMD EPYC, 2 cores' from /proc/cpuinfo (or the platform where there is none)."""
    try:
        model = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                     if ln.startswith("model name"))
    except (OSError, StopIteration):
        import platform

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


def check_args(args: argparse.Namespace) -> str:
    """Validate the options that need no torch; return the level name."""
    if args.full and args.budget not in (None, "full"):
        raise ConfigError(f"--full and --budget {args.budget} disagree; give one of them")
    if args.threads < 1:
        raise ConfigError(f"Expected --threads >= 1, got {args.threads}")
    if args.seeds is not None and args.seeds < 1:
        raise ConfigError(f"Expected --seeds >= 1, got {args.seeds}")
    if not (args.device == "cpu" or args.device.startswith("cuda")):
        raise ConfigError(f"Expected --device cpu or cuda[:N], got {args.device!r}")
    return "full" if args.full else (args.budget or "default")


def study_main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.list:
        for k, v in EXPERIMENTS.items():
            print(f"{k:14s} {v[1]}")
        return 0
    level = check_args(args)
    names = resolve_names(args.names)
    import torch

    from regae.study.registry import experiment
    from regae.study.runner import StudyContext, quiet_lightning
    from regae.study.writer import write_sections

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {args.device} asked for, but torch sees no CUDA device")
    quiet_lightning()
    torch.set_num_threads(args.threads)
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
            index = write_sections(sections, out, preface=preface(runs, missing, out), order=section_order())
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
    path.write_text(json.dumps(runs, indent=1) + "\n")
    return runs


def preface(runs: list[dict], missing: list[str] = (), out: Path = Path("OUT")) -> str:
    lines = ["Each section states the budget its numbers come from (epochs, batch, learning rate and schedule, seeds; "
             "chosen from measured learning curves, see `regae/study/budgets.py`), shows its models' learning curves, "
             "and compares models on the same test images with 95 % intervals and paired tests "
             "(`regae/analysis/stats.py`). Every number is also in `metrics.json`.",
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(study_main(sys.argv[1:]))

"""``regae study NAME... | all``: run study experiments and write their report sections.

Writes ``OUT/index.md``, ``OUT/metrics.json``, ``OUT/sections.json`` and ``OUT/figures/<key>/*.png``;
running experiments one at a time into the same ``OUT`` accumulates one report.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from regae.errors import ConfigError
from regae.study.registry import EXPERIMENTS, experiment, section_order
from regae.study.runner import BUDGETS, StudyContext, quiet_lightning
from regae.study.writer import write_sections


def parser() -> argparse.ArgumentParser:
    names = "\n".join(f"  {k:14s} {v[1]}" for k, v in EXPERIMENTS.items())
    p = argparse.ArgumentParser(
        prog="regae study", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run experiments of the wider autoencoder study and write them as report sections.",
        epilog=f"experiments:\n{names}\n  {'all':14s} every experiment above, in this order\n\n"
               "budgets: " + "; ".join(f"{k}: {b.describe()}" for k, b in BUDGETS.items()),
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="experiment names, or 'all'")
    p.add_argument("--full", action="store_true", help="the course budget (all 55,000 images, 20 epochs; hours on a CPU)")
    p.add_argument("--budget", choices=sorted(BUDGETS), default=None, help="budget by name (default: small)")
    p.add_argument("--out", default="report/study", help="output folder (default: report/study)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, batches and noise (default: 0)")
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


def study_main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.list:
        for k, v in EXPERIMENTS.items():
            print(f"{k:14s} {v[1]}")
        return 0
    if args.full and args.budget not in (None, "full"):
        raise ConfigError(f"--full and --budget {args.budget} disagree; give one of them")
    budget = BUDGETS["full" if args.full else (args.budget or "small")]
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {args.device} asked for, but torch sees no CUDA device")
    elif args.device != "cpu":
        raise ConfigError(f"Expected --device cpu or cuda[:N], got {args.device!r}")
    if args.threads < 1:
        raise ConfigError(f"Expected --threads >= 1, got {args.threads}")
    names = resolve_names(args.names)
    quiet_lightning()
    torch.set_num_threads(args.threads)
    ctx = StudyContext(budget, Path(args.out), device=args.device, seed=args.seed)
    print(f"regae study: {', '.join(names)} with the {budget.name} budget -> {args.out}")
    start = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        print(f"[{name}] {EXPERIMENTS[name][1]}")
        sections = experiment(name)(ctx)
        index = write_sections(sections, ctx.out, preface=preface(), order=section_order())
        print(f"[{name}] done in {time.perf_counter() - t0:.0f} s")
    print(f"regae study: {len(names)} experiment(s) in {time.perf_counter() - start:.0f} s; report: {index}")
    return 0


def preface() -> str:
    return ("Each section states the training budget its numbers come from. The default (small) budget is "
            "meant for a laptop CPU in about a quarter of an hour; `regae study all --full` trains every "
            "model on all 55,000 training images for 20 epochs. Every number is also in `metrics.json`.")

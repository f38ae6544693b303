"""``regae study NAME... | all``: its command line (the experiments run in :mod:`regae.study.session`).

torch is imported only once a study runs, so ``regae study --help`` and option errors answer at once.
"""

from __future__ import annotations

import argparse

from regae.cli.parser import Parser
from regae.errors import ConfigError
from regae.study.budgets import LEVELS, RECIPES, plan
from regae.study.registry import EXPERIMENTS


def parser() -> argparse.ArgumentParser:
    names = "\n".join(f"  {k:14s} {v[1]}" for k, v in EXPERIMENTS.items())
    recipes = "\n".join(f"  {r:13s} " + " | ".join(f"{lv}: {plan(lv, r).epochs} ep x {plan(lv, r).seeds} seed(s)"
                                                    for lv in LEVELS) for r in RECIPES)
    p = Parser(
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
    from regae.study.session import run_study  # torch loads here, after the options are checked

    return run_study(args, level, names, argv)

"""``regae reproduce NAME | --list``: its command line (the reproductions are :mod:`regae.study.reproductions`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from regae.cli.parser import Parser
from regae.errors import ConfigError
from regae.study.reproductions import REPRODUCTIONS


def parser() -> Parser:
    names = "\n".join(f"  {k:12s} {v[1]}" for k, v in REPRODUCTIONS.items())
    p = Parser(prog="regae reproduce", formatter_class=argparse.RawDescriptionHelpFormatter,
               description="Re-run a published table on a CPU and set ours beside the paper's, row by row, with "
                           "seeds, 95 % intervals and paired tests.",
               epilog=f"reproductions:\n{names}")
    p.add_argument("name", nargs="?", metavar="NAME", help="which table (see --list)")
    p.add_argument("--list", action="store_true", help="list the reproductions and exit")
    p.add_argument("--quick", action="store_true",
                   help="the tiny test budget (512 images, a few epochs, one seed): checks the pipeline, reproduces nothing")
    p.add_argument("--out", type=Path, help="report folder (default docs/reproductions/NAME, or report/reproductions/"
                                            "NAME with --quick)")
    p.add_argument("--cache", type=Path, default=Path("runs/reproduce-cache"),
                   help="keep every trained model here and reuse it: a killed run restarted with the same command "
                        "continues model by model (default %(default)s)")
    p.add_argument("--seeds", type=int, help="training seeds per row (default: the reproduction's, 3)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default %(default)s)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default %(default)s)")
    return p


def reproduce_main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.list:
        for name, (_, line) in REPRODUCTIONS.items():
            print(f"{name:12s} {line}")
        return 0
    if args.name is None:
        raise ConfigError(f"name a reproduction: {', '.join(REPRODUCTIONS)} (regae reproduce --list)")
    if args.name not in REPRODUCTIONS:
        raise ConfigError(f"unknown reproduction {args.name!r}; known: {', '.join(REPRODUCTIONS)}")
    for flag in ("seeds", "threads"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            raise ConfigError(f"Expected --{flag} >= 1, got {getattr(args, flag)}.")
    if not (args.device == "cpu" or args.device.startswith("cuda")):
        raise ConfigError(f"Expected --device cpu or cuda[:N], got {args.device!r}")
    out = args.out or Path("report/reproductions" if args.quick else "docs/reproductions") / args.name
    from regae.study.reproductions.run import reproduce  # torch loads here, after the options are checked

    reproduce(args.name, out, quick=args.quick, cache=args.cache, seeds=args.seeds, seed=args.seed, device=args.device,
              threads=args.threads, argv=argv)
    return 0

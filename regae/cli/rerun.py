"""``regae check-rerun PUBLISHED RERUN``: its command line (the comparison is :mod:`regae.analysis.rerun`)."""

from __future__ import annotations

import argparse

from regae.cli.parser import Parser


def check_rerun_main(argv: list[str]) -> int:
    """regae check-rerun PUBLISHED RERUN"""
    from regae.analysis import rerun  # its module docstring is the command's description

    p = Parser(prog="regae check-rerun", description=rerun.__doc__.split("\n\n", 1)[1],
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("published", help="the published report folder (or its metrics.json), e.g. docs/report")
    p.add_argument("rerun", help="the rerun's report folder (or its metrics.json), e.g. report")
    args = p.parse_args(argv)
    rows = rerun.compare_metrics(rerun.read_metrics(args.published), rerun.read_metrics(args.rerun))
    print(rerun.rows_text(rows))
    return 0 if all(r["inside"] is not False for r in rows) else 1

"""The ``regae`` command (also ``python -m regae``).

Settles CPU threading (:mod:`regae.runtime`) before anything imports torch, then hands over
to :func:`regae.cli.main`.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from regae.runtime import configure_threads

    configure_threads()
    from regae.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())

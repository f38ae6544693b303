"""The ``regae`` command (also ``python -m regae``).

Settles CPU threading (:mod:`regae.threads.policy`) before anything imports torch, then hands
over to :func:`regae.cli.dispatch.main`.
"""

from __future__ import annotations

import sys

from regae.threads.policy import configure_threads


def main(argv: list[str] | None = None) -> int:
    configure_threads()
    from regae.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())

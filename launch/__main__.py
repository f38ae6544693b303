"""``python -m launch [cluster options] [regae fit options]``, ``python -m launch status DIR``
and ``python -m launch resume DIR``."""

from __future__ import annotations

import sys

from regae.checkpoints.write import atomic_write_text
from regae.errors import RegaeError
from regae.threads.policy import configure_threads


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    configure_threads()  # before torch loads (see regae.threads.policy)
    try:
        if argv[:1] == ["status"]:
            from launch.status import status_main

            return status_main(argv[1:])
        if argv[:1] == ["resume"]:
            from launch.resume import resume_main

            return resume_main(argv[1:])
        from launch.options import parse_options
        from launch.status import status_text
        from launch.submit import launch, wait

        opts = parse_options(argv)
        submitted = launch(opts)
        if opts.wait:
            failed = wait(submitted.jobs)
            text = status_text(submitted.dir)
            atomic_write_text(text + "\n", submitted.dir / "status.txt")
            print(text)
            return 1 if failed else 0
    except RegaeError as exc:
        print(f"launch: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("launch: interrupted (submitted jobs keep running)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m demo``: start the drawing demo (127.0.0.1:7860 unless told otherwise)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

from regae.threads.policy import configure_threads

DEFAULT_CHECKPOINTS = Path(__file__).with_name("checkpoints")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split(":", 1)[1].strip())
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")
    parser.add_argument("--checkpoints", type=Path, default=DEFAULT_CHECKPOINTS, metavar="DIR",
                        help=f"folder of regae *.ckpt files to choose from (default {DEFAULT_CHECKPOINTS})")
    parser.add_argument("--cache", type=Path, default=None, metavar="DIR",
                        help="folder where what start-up computes per checkpoint (classifier, map, test PSNR, "
                             "accuracy) is kept, keyed by the checkpoint's bytes, so the next start reads it "
                             "back (default $REGAE_DEMO_CACHE, else $XDG_CACHE_HOME/regae-demo, else "
                             "~/.cache/regae-demo)")
    parser.add_argument("--no-cache", action="store_true", help="compute everything at each start, keep nothing")
    parser.add_argument("--device", default="cpu", help="torch device for the models (default cpu)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for torch (default 1: the nets are tiny, and on a busy CPU more "
                             "threads mostly wait for each other)")
    parser.add_argument("--concurrency", type=int, default=None, metavar="N",
                        help="requests computed at the same time (default: the measured best, see "
                             "benchmarks/README.md); the others wait in Gradio's queue")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port must be in 1..65535, got {args.port}")
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if args.concurrency is not None and args.concurrency < 1:
        parser.error(f"--concurrency must be >= 1, got {args.concurrency}")
    if args.no_cache and args.cache is not None:
        parser.error("--cache and --no-cache exclude each other")
    return args


def cache_dir(args: argparse.Namespace) -> Path | None:
    """The analysis cache folder to use (None: --no-cache)."""
    if args.no_cache:
        return None
    if args.cache is not None:
        return args.cache
    from demo.cache import default_cache_dir

    return default_cache_dir()


def read_from_cache(predictor, name: str) -> bool:
    """Whether checkpoint ``name``'s analysis was read back from the cache (False if it is gone meanwhile)."""
    try:
        return predictor.loaded(name).insight.from_cache
    except Exception:  # noqa: BLE001 -- replaced since status(): the page says what it is now
        return False


def stop_on_sigterm(signum, frame) -> None:
    """SIGTERM (``kill``, a service manager) stops the demo as Ctrl-C does, so its temp folder is removed."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_threads()  # before torch loads (see regae.threads.policy)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from demo.tempdir import owned_temp_dir

    if threading.current_thread() is threading.main_thread():  # only there can a handler be set
        signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        # Gradio's cache (uploads, served images, the empty folders it leaves) and any tempfile
        # go under one folder of this process's own, removed when the demo stops.
        with owned_temp_dir() as tmp:
            return serve(args, tmp)
    except KeyboardInterrupt:  # during start-up; once serving, Gradio closes the server itself
        print("demo: interrupted", file=sys.stderr)
        return 130


def serve(args: argparse.Namespace, tmp: Path) -> int:
    from demo.app import CONCURRENCY, CSS, MAX_FILE_SIZE, build_demo
    from demo.predictor import Predictor
    from regae.threads.count import set_threads

    set_threads(args.threads)

    if not args.checkpoints.is_dir():
        print(f"demo: warning: checkpoint folder {args.checkpoints} does not exist; the app will say so",
              file=sys.stderr)
    t0, cpu0 = time.perf_counter(), time.process_time()
    cache = cache_dir(args)
    predictor = Predictor(args.checkpoints, device=args.device, cache=cache)
    app = build_demo(args.checkpoints, predictor=predictor, concurrency=args.concurrency or CONCURRENCY)
    status = predictor.status()  # remembered: nothing is loaded again
    usable = [n for n, reason in status.items() if reason is None]
    cached = sum(read_from_cache(predictor, n) for n in usable)
    where = f"{cached} of {len(usable)} analyses read from the cache in {cache}" if cache else "no cache"
    print(f"demo: checkpoints loaded and analysed in {time.perf_counter() - t0:.1f} s "
          f"({time.process_time() - cpu0:.1f} s of CPU; {where}); temp files in {tmp}", file=sys.stderr)
    for name, reason in status.items():
        if reason is not None:
            print(f"demo: warning: checkpoint {name} is unusable, the page says why: {reason}", file=sys.stderr)
    try:
        app.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size=MAX_FILE_SIZE,
                   css=CSS)
    except OSError as exc:  # port taken, address not available
        print(f"demo: error: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

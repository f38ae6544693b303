"""Run every benchmark in one process and print each ratio with its target and PASS/FAIL.

    python benchmarks/run.py [--quick] [--only data,contractive,hutchinson,memory,gpu,step,peers]
                             [--device cuda] [--clock wall --threads 2] [--repeats 3] [--compile]

(``nox -s bench`` runs this.) About 10-15 minutes on the 2-core CPU it was written on, more
when other jobs load the machine; ``--quick`` is a ~2 minute smoke run with small sizes.
Exit status 0 whatever the verdicts: the table is the product, not a gate.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_contractive  # noqa: E402
import bench_data  # noqa: E402
import bench_gpu  # noqa: E402
import bench_hutchinson  # noqa: E402
import bench_memory  # noqa: E402
import bench_peers  # noqa: E402
import bench_step  # noqa: E402
from common import add_arguments, machine  # noqa: E402

BENCHMARKS = {
    "data": bench_data, "contractive": bench_contractive, "hutchinson": bench_hutchinson,
    "memory": bench_memory, "gpu": bench_gpu, "step": bench_step,
    "peers": bench_peers,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset of " + ", ".join(BENCHMARKS))
    args = parser.parse_args(argv)
    chosen = [n.strip() for n in args.only.split(",") if n.strip()]
    if unknown := [n for n in chosen if n not in BENCHMARKS]:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    common = ["--device", args.device, "--clock", args.clock, "--threads", str(args.threads),
              "--repeats", str(args.repeats), *(["--quick"] if args.quick else []),
              *(["--compile"] if args.compile else [])]
    print(f"machine: {machine()}", flush=True)
    results, t0 = [], time.perf_counter()
    for name in chosen:
        print(f"\n== {name} ==", flush=True)
        t = time.perf_counter()
        results += BENCHMARKS[name].main(common)
        print(f"({name}: {time.perf_counter() - t:.0f} s wall)", flush=True)
    print(f"\n== summary ({time.perf_counter() - t0:.0f} s wall; {machine()}) ==")
    for r in results:
        print(r.line())
    verdicts = [r.status for r in results]
    print(f"{verdicts.count('PASS')} PASS, {verdicts.count('FAIL')} FAIL, {verdicts.count('SKIP')} SKIP, "
          f"{verdicts.count('INFO')} INFO")
    return 0


if __name__ == "__main__":
    sys.exit(main())

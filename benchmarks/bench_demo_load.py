"""The demo under load: USERS gradio_client users x RUNS runs each against ``python -m demo``.

    python benchmarks/bench_demo_load.py [--users 32] [--runs 20] [--concurrency 1,2] [--think 0] [--timeout 600]

For each ``--concurrency`` value it starts ``python -m demo`` on a free 127.0.0.1 port (one
torch thread, as the demo's default), waits until it serves, lets every user send its runs at
once and back to back (``demo/testing/load.py``: a different pair of MNIST test digits per run,
each answer checked against the answer for that input alone), then stops the server. It prints
p50/p95/max latency, errors, lost and wrong answers, the server's CPU seconds per run, and the
machine and its load average, which matter: the clients run on the same cores as the server.
Everything it writes (Gradio's cache, uploads, downloads, input PNGs) lives in one folder under
``runs/`` that is removed at the end. Exit status 1 if any run failed, was lost or was wrong.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def load_avg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def start_server(port: int, concurrency: int, work: Path, checkpoints: Path, timeout: float) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_TEMP_DIR": str(work / "gradio"), "TMPDIR": str(work),
           "GRADIO_ANALYTICS_ENABLED": "False", "MPLCONFIGDIR": str(work / "mpl")}
    cmd = [sys.executable, "-m", "demo", "--port", str(port), "--threads", "1",
           "--concurrency", str(concurrency), "--checkpoints", str(checkpoints)]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"))
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if server.poll() is not None:
            raise RuntimeError(f"server exited with {server.returncode}: {(work / 'server.log').read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).close()
            said = [ln for ln in (work / "server.log").read_text().splitlines() if "analysed in" in ln]
            print(f"  server up in {time.perf_counter() - t0:.1f} s ({said[-1].split(': ', 1)[1] if said else '?'}; "
                  f"load avg {load_avg()})", flush=True)
            return server
        except OSError:
            time.sleep(0.5)
    stop_server(server)
    raise RuntimeError(f"server not serving after {timeout:.0f} s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)  # not SIGINT: a shell's background job ignores it
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--runs", type=int, default=20, help="runs per user (default 20)")
    parser.add_argument("--concurrency", default="1", help="comma-separated values to measure (default 1)")
    parser.add_argument("--model", default="sparse", help="checkpoint name (default sparse)")
    parser.add_argument("--checkpoints", type=Path, default=ROOT / "demo" / "checkpoints")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for all runs of one server (default 600)")
    parser.add_argument("--startup-timeout", type=float, default=300)
    parser.add_argument("--think", type=float, default=0.0, metavar="S",
                        help="pause S x U(0.5, 1.5) s after each answer, like a student drawing (default 0: back to back)")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",")]

    work = Path(tempfile.mkdtemp(prefix="bench-demo-load-", dir=ROOT / "runs" if (ROOT / "runs").is_dir() else ROOT))
    os.environ.update(GRADIO_TEMP_DIR=str(work / "gradio"), GRADIO_ANALYTICS_ENABLED="False")
    tempfile.tempdir = str(work)
    failed = False
    try:
        from common import machine

        from regae.threads.count import set_threads

        set_threads(1)  # as the server: the reference answers must be computed the same way

        from demo.predictor import Predictor
        from demo.testing.load import make_cases, run_users

        print(f"machine: {machine()}; load avg {load_avg()}", flush=True)
        t0 = time.perf_counter()
        predictor = Predictor(args.checkpoints)
        cases = make_cases(predictor, args.model, args.users, args.runs, work / "inputs")
        print(f"{args.users} users x {args.runs} runs: inputs and their answers ready in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        for level in levels:
            print(f"\n== concurrency {level}, {'back to back' if not args.think else f'think ~{args.think:g} s'} ==",
                  flush=True)
            port = free_port()
            server = start_server(port, level, work, args.checkpoints, args.startup_timeout)
            try:
                cpu0, load0 = cpu_seconds(server.pid), load_avg()
                own0 = time.process_time()
                report = run_users(f"http://127.0.0.1:{port}/", cases, args.model, args.timeout, work / "downloads",
                                   think_s=args.think)
                cpu = cpu_seconds(server.pid) - cpu0
                own = time.process_time() - own0
            finally:
                stop_server(server)
            print(f"  {report.summary()}")
            n = max(1, report.answered)
            print(f"  server CPU {cpu:.1f} s ({1000 * cpu / n:.0f} ms per run); clients' CPU {own:.1f} s "
                  f"({1000 * own / n:.0f} ms per run); load avg before {load0}, after {load_avg()}")
            for line in (report.errors + report.wrong)[:5]:
                print(f"  ! {line}")
            failed |= bool(report.errors or report.wrong or report.lost)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

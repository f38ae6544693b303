"""Shared pieces of the benchmarks: clocks, interleaved repeats, ratios with targets.

Timing on a shared 2-core machine is noisy, so every benchmark
* warms each variant up once, then runs ``repeats`` rounds that *interleave* the variants
  (A B C, A B C, ...) so a change of machine load hits all of them alike, and
* reports the median per variant and ratios of medians.

The default clock on CPU is the process's CPU time (``time.process_time``) with one torch
thread: other engineers' jobs make wall time swing by 3-5x here, while the CPU time a
variant burns is stable to a few %. ``--clock wall --threads 2`` gives wall-clock figures.
On CUDA the clock is always wall time with ``torch.cuda.synchronize``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from regae.threads.count import set_threads


@dataclass
class Result:
    """One target: ``value`` compared with ``target`` by ``op`` ('<=' or '>=')."""

    name: str
    value: float | None
    target: float | None = None
    op: str = ">="
    detail: str = ""
    skipped: str = ""

    @property
    def status(self) -> str:
        if self.skipped or self.value is None:
            return "SKIP"
        if self.target is None:
            return "INFO"
        ok = self.value >= self.target if self.op == ">=" else self.value <= self.target
        return "PASS" if ok else "FAIL"

    def line(self) -> str:
        if self.status == "SKIP":
            return f"[SKIP] {self.name}: skipped: {self.skipped}"
        target = f" (target {self.op} {self.target:g})" if self.target is not None else ""
        detail = f"  [{self.detail}]" if self.detail else ""
        return f"[{self.status}] {self.name}: {self.value:.4g}{target}{detail}"


@dataclass
class Settings:
    device: torch.device
    clock: str  # 'cpu' (process CPU time) or 'wall'
    threads: int
    repeats: int
    quick: bool
    compile: bool
    extra: dict = field(default_factory=dict)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                        help="CPU: process CPU time (default, robust to other jobs) or wall time")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads on CPU (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds after one warm-up (default 3)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--compile", action="store_true",
                        help="also time torch.compile variants on CPU (minutes of compile time here)")


def settings(args: argparse.Namespace) -> Settings:
    device = torch.device(args.device)
    if device.type == "cpu":
        set_threads(args.threads)
    clock = "wall" if device.type == "cuda" else args.clock
    return Settings(device, clock, args.threads, max(1, args.repeats), args.quick, args.compile)


def clock_fn(s: Settings) -> Callable[[], float]:
    if s.device.type == "cuda":
        def wall_cuda() -> float:
            torch.cuda.synchronize(s.device)
            return time.perf_counter()
        return wall_cuda
    return time.process_time if s.clock == "cpu" else time.perf_counter


def time_interleaved(variants: dict[str, Callable[[], object]], s: Settings,
                     repeats: dict[str, int] | None = None) -> dict[str, float]:
    """Median seconds per call of each variant: 1 warm-up, then interleaved timed rounds.

    ``repeats`` may lower the number of rounds for expensive variants (at least 1).
    """
    now = clock_fn(s)
    times: dict[str, list[float]] = {k: [] for k in variants}
    for fn in variants.values():  # warm-up
        fn()
    for r in range(s.repeats):
        for name, fn in variants.items():
            if repeats is not None and r >= repeats.get(name, s.repeats):
                continue
            t0 = now()
            fn()
            times[name].append(now() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def machine() -> str:
    """CPU model, cores, torch version (and GPU name when one is visible)."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no CUDA"
    load = ""
    if hasattr(os, "getloadavg"):
        load = f", load avg {os.getloadavg()[0]:.1f}"
    return f"{model}, {os.cpu_count()} cores, torch {torch.__version__}{gpu}{load}"


def describe(s: Settings) -> str:
    if s.device.type == "cuda":
        return f"device {torch.cuda.get_device_name(s.device)}, wall clock"
    clock = "process CPU time" if s.clock == "cpu" else "wall time"
    return f"cpu, {s.threads} torch thread(s), {clock}, median of {s.repeats} after 1 warm-up"


def report(results: list[Result]) -> None:
    for r in results:
        print(r.line(), flush=True)

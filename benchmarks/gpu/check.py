"""The GPU check (issue #26): prove regae correct on a CUDA device and time it, in one command.

Runs its stages in order of value, each started only when the deadline (``--budget-s``, default
450 s from start) still holds the stage's minimum plus the minimums of every stage after it, and
writes ``gpu-check.json`` and ``gpu-check.md`` into ``--out`` after every stage. A stage that
fails is recorded with its error and the next one runs. The summary table is printed last.

    python benchmarks/gpu/check.py --out DIR                          # on the GPU machine (check.sh)
    python benchmarks/gpu/check.py --device cpu --quick --out DIR     # the dry run: every stage, tiny sizes
    python benchmarks/gpu/check.py --only correct-steps,speed --out DIR

Stages (minimum seconds on a GPU): environment; correct-steps, probes, checkpoint, data (CUDA vs
CPU); ceilings, speed, share (images/s against the chip's measured ceilings); precision (bf16 vs
fp32); sparse, contractive (the seed's 20-epoch fits); sweep (batch sizes); compare; compile.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

STARTED = time.monotonic()  # the deadline counts from here: the imports below take seconds too

if __name__ == "__main__":  # a script: the repository replaces this folder on sys.path (no module here shadows another)
    sys.path[0] = str(Path(__file__).resolve().parents[2])
    from regae.threads.policy import configure_threads

    configure_threads()  # OpenMP's wait policy, before torch loads, as the `regae` command does

import torch  # noqa: E402

from benchmarks.common import machine  # noqa: E402
from benchmarks.gpu import correct, fits, speed  # noqa: E402
from benchmarks.gpu.budget import Deadline  # noqa: E402
from benchmarks.gpu.context import FULL, QUICK, Context  # noqa: E402
from benchmarks.gpu.results import Results, markdown_table, row, tally  # noqa: E402
from benchmarks.gpu.steps import write_small_mnist  # noqa: E402
from regae.threads.count import set_threads  # noqa: E402


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    run: Callable[[Context], list[dict]]
    min_s: float  # on a GPU; the dry run needs a tenth


def driver_version() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def environment(device: torch.device) -> dict:
    """What the results were measured on."""
    import lightning

    env = {"torch": torch.__version__, "cuda": torch.version.cuda, "lightning": lightning.__version__,
           "python": platform.python_version(), "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "cpu_cores": os.cpu_count(), "driver": None, "host": machine()}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(device=torch.cuda.get_device_name(device), driver=driver_version(),
                   gpu_memory_gib=props.total_memory / 2**30, multiprocessors=props.multi_processor_count,
                   capability=f"{props.major}.{props.minor}")
    else:
        env.update(device=f"CPU ({platform.processor() or platform.machine()}), dry run")
    return env


def stage_environment(ctx: Context) -> list[dict]:
    env = ctx.shared["environment"]
    rows = [row("CPU cores of the machine", env["cpu_cores"], "cores", note=f"{env['host']}; Python {env['python']}, "
                f"Lightning {env['lightning']}, CUDA {env['cuda']}, driver {env['driver']}")]
    if ctx.cuda:
        rows += [row(f"{env['device']}: memory", env["gpu_memory_gib"], "GiB", note=f"compute capability {env['capability']}"),
                 row(f"{env['device']}: multiprocessors", env["multiprocessors"], "SMs")]
    return rows


STAGES = (
    Stage("environment", "device, driver, CUDA, torch, date", stage_environment, 0),
    Stage("correct-steps", "Adam steps: CUDA fp32 and CPU fp32 vs CPU fp64 (plain, exact, Hutchinson)",
          correct.stage_steps, 20),
    Stage("probes", "Hutchinson with the device's own probes vs the exact penalty", correct.stage_probes, 5),
    Stage("checkpoint", "a checkpoint written on the device, read by a process that sees no GPU",
          correct.stage_checkpoint, 20),
    Stage("data", "on-device MNIST batches vs the CPU path", correct.stage_data, 10),
    Stage("ceilings", "the chip's bf16 matrix rate and copy bandwidth, measured", speed.stage_ceilings, 5),
    Stage("speed", "images/s of the three steps, fp32 and bf16, eager", speed.stage_speed, 20),
    Stage("share", "GPU kernel time in a plain step; CUDA graph; bigger batch", speed.stage_share, 10),
    Stage("precision", "bf16-mixed vs fp32 test PSNR after a short fit", fits.stage_precision, 20),
    Stage("sparse", "the seed's 20-epoch sparse fit (regae fit, child process)", fits.stage_sparse, 30),
    Stage("contractive", "the seed's 20-epoch exact contractive fit", fits.stage_exact, 40),
    Stage("sweep", "batch sizes at equal epochs: test PSNR and time", fits.stage_sweep, 25),
    Stage("compare", "regae compare's report, timed; --full as the sum of its parts", fits.stage_compare, 60),
    Stage("compile", "torch.compile of the three steps", speed.stage_compile, 60),  # one inductor compile: ~30-60 s
)


def run(args: argparse.Namespace) -> Results:
    deadline = Deadline(args.budget_s, start=STARTED)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("check.py: --device cuda but torch sees no CUDA device (use --device cpu --quick for the dry run)")
    if device.type == "cpu":  # the dry run: one thread, as benchmarks/README.md times CPUs (2 threads spin-wait
        set_threads(1)        # each other to a crawl when another job holds a core of this 2-core machine)
    env = environment(device)
    scale = 0.1 if args.quick else 1.0
    work = Path(tempfile.mkdtemp(prefix="regae-gpu-check-"))
    ctx = Context(device=device, label=env["device"], sizes=QUICK if args.quick else FULL, deadline=deadline,
                  work=work, quick=args.quick, shared={"environment": env})
    if args.quick:
        ctx.dataset = write_small_mnist(work / "mnist-small.npz", n_train=600, n_test=200)
    results = Results(args.out, {**env, "budget_s": args.budget_s, "used_s": 0.0, "quick": args.quick})
    stages = [s for s in STAGES if not args.only or s.name in args.only]
    try:
        for i, stage in enumerate(stages):
            ctx.reserve_s = scale * sum(s.min_s for s in stages[i + 1 :])
            print(f"\n=== {stage.name}: {stage.title} ({deadline.remaining():.0f} s left, "
                  f"{ctx.reserve_s:.0f} s kept for later stages)", flush=True)
            if not deadline.allows(scale * stage.min_s, ctx.reserve_s):
                results.record(stage.name, stage.title, "skipped", 0.0, [],
                               note=f"{deadline.remaining():.0f} s left; needs {scale * stage.min_s:.0f} s "
                                    f"+ {ctx.reserve_s:.0f} s for later stages")
                continue
            t0 = time.perf_counter()
            try:
                rows = stage.run(ctx)
                status = "done" if any(r["value"] is not None for r in rows) else "partial"
                results.record(stage.name, stage.title, status, time.perf_counter() - t0, rows)
            except Exception as exc:  # noqa: BLE001 - one stage's failure must not cost the others
                traceback.print_exc()
                results.record(stage.name, stage.title, "failed", time.perf_counter() - t0, [],
                               error=f"{type(exc).__name__}: {str(exc).strip()[:300]}")
            results.meta["used_s"] = round(deadline.elapsed(), 1)
            results.write()
            for r in results.stages[stage.name]["rows"]:
                print(f"  [{r['verdict']}] {r['figure']}: {r['value']} {r['unit']}  {r['note']}", flush=True)
    finally:
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
        results.meta["used_s"] = round(deadline.elapsed(), 1)
        results.write()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "gpu-check"),
                   help="folder for gpu-check.json and gpu-check.md (default $OUT, else ./gpu-check)")
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu (the dry run, with --quick)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: every stage in well under 2 minutes on a CPU")
    p.add_argument("--budget-s", type=float, default=450.0, help="stop starting stages after this many seconds")
    p.add_argument("--only", type=lambda v: [s for s in v.split(",") if s], default=None,
                   help="comma-separated stage names: " + ",".join(s.name for s in STAGES))
    p.add_argument("--keep-work", action="store_true", help="keep the scratch folder (runs, checkpoints, report)")
    args = p.parse_args(argv)
    unknown = set(args.only or ()) - {s.name for s in STAGES}
    if unknown:
        p.error(f"unknown stage(s): {', '.join(sorted(unknown))}")
    results = run(args)
    print(f"\n{results.header()}\n{markdown_table(results.stages)}\n\n{tally(results.stages)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

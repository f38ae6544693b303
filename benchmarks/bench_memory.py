"""Target 4, memory: peak resident memory of ``regae fit --config contractive`` on CPU.

Runs the real command in a subprocess (``--trainer.max_steps``, ``--data.limit_train``,
one validation batch, output under a temporary folder) and reads the child's peak RSS
from ``os.wait4`` (``ru_maxrss``, KiB on Linux). With ``--device cuda`` the same run on
the GPU also reports ``torch.cuda.max_memory_allocated`` (printed by a small wrapper).

    python benchmarks/bench_memory.py [--max-steps 10] [--device cuda]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Result, add_arguments, report, settings  # noqa: E402

# Runs regae's CLI in this interpreter and prints the peak GPU memory afterwards.
GPU_WRAPPER = (
    "import sys, torch; from regae.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "print('PEAK_CUDA_BYTES', torch.cuda.max_memory_allocated())\n"
    "sys.exit(rc)\n"
)


def fit_peak(config: str, max_steps: int, limit_train: int, accelerator: str, threads: int) -> tuple[float, float | None, str]:
    """(peak RSS MiB, peak CUDA MiB or None, command) of one short ``regae fit``."""
    with tempfile.TemporaryDirectory() as tmp:
        args = ["fit", "--config", config, "--trainer.max_steps", str(max_steps),
                "--data.limit_train", str(limit_train), "--data.limit_test", "128",
                "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false",
                "--trainer.default_root_dir", tmp, "--trainer.accelerator", accelerator,
                "--trainer.logger", "false"]
        cmd = [sys.executable, "-c", GPU_WRAPPER, *args]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"regae {' '.join(args)} failed:\n{out[-2000:]}")
        cuda = [float(line.split()[1]) / 2**20 for line in out.splitlines() if line.startswith("PEAK_CUDA_BYTES")]
        gpu = cuda[0] if cuda and accelerator == "gpu" else None
        return usage.ru_maxrss / 1024, gpu, "regae " + " ".join(args[:7])


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--max-steps", type=int, default=10)
    parser.add_argument("--limit-train", type=int, default=2560)
    args = parser.parse_args(argv)
    s = settings(args)
    steps = 2 if s.quick else args.max_steps
    rss, _, cmd = fit_peak("contractive", steps, args.limit_train, "cpu", s.threads)
    results = [Result("memory: peak RSS of regae fit --config contractive, CPU (MiB)", rss, None, detail=cmd)]
    if s.device.type == "cuda":
        if torch.cuda.is_available():
            rss_g, gpu, cmd = fit_peak("contractive", steps, args.limit_train, "gpu", s.threads)
            results.append(Result(f"memory: peak CUDA memory, {torch.cuda.get_device_name()} (MiB)", gpu, None,
                                  detail=f"host RSS {rss_g:.0f} MiB; {cmd}"))
        else:
            results.append(Result("memory: peak CUDA memory", None, skipped="no CUDA"))
    report(results)
    return results


if __name__ == "__main__":
    main()

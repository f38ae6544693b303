"""Target 5, GPU: images/s of plain, exact-contractive and Hutchinson steps on a CUDA device.

Each step is regae's ``AutoEncoder._shared_step`` + backward + Adam on the U-Net (no skips),
d=32, B=128, in fp32 and under ``torch.autocast(bfloat16)``, eager and with the net
``torch.compile``d. The contractive penalties need a double backward, which AOTAutograd
does not support: a compiled variant that raises is reported as such and regae stays eager.
``--full-runs`` also times ``regae fit --config sparse`` and ``--config contractive``
(20 epochs) on the device. Every figure carries the device name. On a machine without
CUDA the script prints ``skipped: no CUDA``.

    python benchmarks/bench_gpu.py [--device cuda] [--full-runs]
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Result, Settings, add_arguments, report, settings, time_interleaved  # noqa: E402

from regae import AutoEncoder  # noqa: E402

MODES = {"plain": None, "exact": "exact", "hutchinson": "hutchinson"}


def make_step(device: torch.device, mode: str | None, bf16: bool, compiled: bool, x: torch.Tensor):
    torch.manual_seed(0)
    regs = [] if mode is None else [{"name": "contractive", "weight": 1e-4, "mode": mode}]
    model = AutoEncoder(arch="unet", latent_dim=32, regularizers=regs).to(device)
    if compiled:
        model.net = torch.compile(model.net)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        ctx = torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with ctx:
            loss, _, _ = model._shared_step((x, None), "train")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def run(s: Settings, batch: int) -> list[Result]:
    dev, name = s.device, torch.cuda.get_device_name(s.device)
    x = torch.rand(batch, 1, 28, 28, device=dev)
    results = []
    for mode_name, mode in MODES.items():
        for bf16 in (False, True):
            for compiled in (False, True):
                label = f"gpu: {mode_name} step images/s ({'bf16' if bf16 else 'fp32'}, {'compiled' if compiled else 'eager'})"
                try:
                    step = make_step(dev, mode, bf16, compiled, x)
                    torch.cuda.reset_peak_memory_stats(dev)
                    t = time_interleaved({"step": step}, s)["step"]
                    peak = torch.cuda.max_memory_allocated(dev) / 2**20
                    results.append(Result(label, batch / t, None, detail=f"{name}; peak {peak:.0f} MiB; B={batch}"))
                except Exception as e:  # noqa: BLE001 - e.g. no double backward under compile
                    results.append(Result(label, None, skipped=f"{type(e).__name__}: {str(e).splitlines()[0][:100]}"))
    return results


def full_runs(s: Settings) -> list[Result]:
    out = []
    for config in ("sparse", "contractive"):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "regae", "fit", "--config", config, "--trainer.accelerator", "gpu",
                        "--trainer.max_epochs", "20", "--trainer.enable_progress_bar", "false"], check=True)
        out.append(Result(f"gpu: 20-epoch regae fit --config {config} (s)", time.perf_counter() - t0, None,
                          detail=torch.cuda.get_device_name(s.device)))
    return out


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--full-runs", action="store_true", help="also time 20-epoch sparse and contractive fits")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        results = [Result("gpu: images/s (plain, exact, hutchinson; fp32/bf16; eager/compiled)", None,
                          skipped="no CUDA")]
        report(results)
        return results
    if args.device == "cpu":
        args.device = "cuda"
    s = settings(args)
    results = run(s, args.batch)
    if args.full_runs:
        results += full_runs(s)
    report(results)
    return results


if __name__ == "__main__":
    main()

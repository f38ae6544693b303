"""Stages that prove regae computes on the device what it computes on a CPU.

* :func:`stage_steps`: a few Adam steps from the same weights on the same batch, on the device and
  on the CPU in float32, against the CPU in float64. The device passes when its distance to the
  float64 run is at most 10x the CPU's own float32 distance (or a small floor): both differ from
  float64 by rounding alone, in a different order. TF32 is off for this stage (cuDNN uses it for
  float32 convolutions by default). Hutchinson's probes come from the step's generator; CUDA's
  and the CPU's generators draw different numbers from the same seed, so here each probe is
  drawn on the CPU from a CPU generator seeded like the step's, then moved to the device: both
  runs see the same probes and regae's own ``frobenius_hutchinson`` computes with them.
* :func:`stage_probes`: the device's own probes (its generator, as training draws them): the mean
  of many one-probe estimates matches the exact penalty within its standard error, and the step
  generator gives the same probes for the same (seed, step).
* :func:`stage_checkpoint`: a short ``regae fit`` on the device writes a checkpoint that
  ``regae.load(..., map_location="cpu")`` reads in a process that sees no GPU, with the same outputs.
* :func:`stage_data`: ``MNISTDataModule(on_device=True)`` cuts the same batches on the device as
  the CPU path does, in the same order, epoch after epoch.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import torch

from benchmarks.gpu.context import ROOT, Context
from benchmarks.gpu.fitrun import run_fit
from benchmarks.gpu.results import row
from benchmarks.gpu.steps import MODES, build_model, mnist_images
from regae import MNISTDataModule, load, make_trainer
from regae.checkpoints.write import atomic_save
from regae.regularizers import contractive

#: relative distances below these pass whatever the CPU's own rounding (float32 rounding of a sum)
FLOORS = {"loss": 1e-6, "penalty": 1e-6, "penalty_grad": 1e-5, "gradient": 1e-5, "weights": 1e-4}
WHAT = {"loss": "loss, max over {n} Adam steps", "penalty": "penalty, step 1",
        "penalty_grad": "gradient of the penalty alone, step 1", "gradient": "gradient of the loss, step 1",
        "weights": "weights after {n} steps (over the distance moved)"}
RATIO = 10  # the device may be this many times further from float64 than the CPU's float32 run


@contextlib.contextmanager
def full_fp32() -> Iterator[None]:
    """No TF32 in matrix products and cuDNN convolutions within the block (restored after)."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


@contextlib.contextmanager
def cpu_probes() -> Iterator[None]:
    """Within the block, random draws given a generator (Hutchinson's probes) come from a CPU generator with
    that generator's seed, in float32, moved to the requested device and dtype: every device draws the same."""
    real = torch.randn

    def randn(*size: Any, generator: torch.Generator | None = None, device: Any = None, dtype: Any = None,
              **kwargs: Any) -> torch.Tensor:
        if generator is None:
            return real(*size, device=device, dtype=dtype, **kwargs)
        cpu = torch.Generator().manual_seed(generator.initial_seed())
        return real(*size, generator=cpu, dtype=torch.float32, **kwargs).to(device=device, dtype=dtype)

    with mock.patch.object(contractive.torch, "randn", randn):
        yield


def flat(tensors: Iterator[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.detach().reshape(-1).to("cpu", torch.float64) for t in tensors])


def train_steps(mode: str, device: torch.device, dtype: torch.dtype, x: torch.Tensor, steps: int) -> dict[str, Any]:
    """``steps`` Adam steps of regae's ``_shared_step`` from the seed-0 weights: losses, first gradient, weights."""
    model = build_model(mode, device, dtype)
    w0 = flat(model.parameters())
    x = x.to(device=device, dtype=dtype)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    params = [p for p in model.parameters() if p.requires_grad]
    losses, out = [], {"w0": w0}
    with cpu_probes():
        for i in range(steps):
            loss, _, terms = model._shared_step((x, None), "train")
            if i == 0 and "reg/contractive" in terms:  # the penalty alone: its weight 1e-4 hides it in the loss
                penalty = terms["reg/contractive"]
                out["penalty"] = penalty.detach().reshape(1).to("cpu", torch.float64)
                grads = torch.autograd.grad(penalty, params, retain_graph=True, allow_unused=True)
                out["penalty_grad"] = flat(g if g is not None else torch.zeros_like(p) for g, p in zip(grads, params))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if i == 0:
                out["gradient"] = flat(p.grad for p in params)
            opt.step()
            losses.append(float(loss.detach()))
    return {**out, "loss": torch.tensor(losses, dtype=torch.float64), "weights": flat(model.parameters())}


def distances(run: dict[str, Any], ref: dict[str, Any]) -> dict[str, float]:
    """Relative distances to ``ref``: the loss (max over steps), the penalty and its gradient alone (first step),
    the first gradient of the loss, and the weights after the last step (over the distance they moved)."""
    out = {"loss": float(((run["loss"] - ref["loss"]).abs() / ref["loss"].abs()).max())}
    for key in ("penalty", "penalty_grad", "gradient"):
        if key in ref:
            out[key] = float((run[key] - ref[key]).norm() / ref[key].norm())
    out["weights"] = float((run["weights"] - ref["weights"]).norm() / (ref["weights"] - ref["w0"]).norm())
    return out


def stage_steps(ctx: Context) -> list[dict]:
    s, rows = ctx.sizes, []
    x = mnist_images(s.correct_batch)
    cpu = torch.device("cpu")
    with full_fp32():
        for mode in MODES:
            ref = train_steps(mode, cpu, torch.float64, x, s.correct_steps)
            run_cpu = train_steps(mode, cpu, torch.float32, x, s.correct_steps)
            run_dev = train_steps(mode, ctx.device, torch.float32, x, s.correct_steps)
            cpu32, dev32, direct = distances(run_cpu, ref), distances(run_dev, ref), distances(run_dev, run_cpu)
            probes = "; probes drawn on the CPU, the same on both" if mode == "hutchinson" else ""
            chunk = (f"; chunk_size auto: {contractive.resolve_chunk('auto', ctx.device) or 'all 32'} cotangent(s) "
                     f"per vmap on {ctx.device.type}, {contractive.resolve_chunk('auto', cpu)} on the CPU"
                     if mode == "exact" else "")
            for what, value in dev32.items():
                limit = max(RATIO * cpu32[what], FLOORS[what])
                rows.append(row(f"{mode}: {WHAT[what].format(n=s.correct_steps)}, {ctx.label} fp32 vs CPU fp64 "
                                f"(B={s.correct_batch})", value, "(relative)", limit,
                                note=f"CPU fp32 vs fp64: {cpu32[what]:.2e}; limit max({RATIO}x that, {FLOORS[what]:g}); "
                                     f"{ctx.device.type} fp32 vs CPU fp32: {direct[what]:.2e}{probes}{chunk}"))
    return rows


def stage_probes(ctx: Context) -> list[dict]:
    """Hutchinson's estimate with the device's own generator against the exact penalty on the device."""
    s, dev = ctx.sizes, ctx.device
    model = build_model("hutchinson", dev)
    x = mnist_images(s.probe_batch, dev)
    with full_fp32():
        exact = float(contractive.frobenius_exact(model.net.encoder, x).mean())
        draws = []
        for k in range(s.probe_draws):
            gen = torch.Generator(device=dev).manual_seed(10_000 + k)
            xr = x.detach().requires_grad_(True)
            draws.append(float(contractive.frobenius_hutchinson(model.encode(xr), xr, 1, gen).mean()))
    mean, sd = statistics.fmean(draws), statistics.stdev(draws)
    z = (mean - exact) / (sd / math.sqrt(len(draws)))
    g1, g2 = model.step_generator(), model.step_generator()
    v1 = torch.randn(64, 32, generator=g1, device=dev)
    v2 = torch.randn(64, 32, generator=g2, device=dev)
    same = float((v1 - v2).abs().max())
    return [
        row(f"mean of {len(draws)} one-probe estimates on {ctx.label} vs exact ‖J‖²_F (B={s.probe_batch})",
            (mean - exact) / exact, "(relative)",
            note=f"exact {exact:.4g}, estimates {mean:.4g} ± {sd / math.sqrt(len(draws)):.2g} (standard error)"),
        row("same: distance in standard errors", abs(z), "σ", 4.0,
            note="unbiased estimate: |z| stays under 4 but for 1 run in ~16,000"),
        row(f"step generator on {ctx.label}: two draws for the same (seed, step), max difference", same, "", 0.0,
            note=f"probes made on {v1.device.type}"),
    ]


def stage_checkpoint(ctx: Context) -> list[dict]:
    s, dev = ctx.sizes, ctx.device
    args = ["--config", "sparse", "--trainer.accelerator", ctx.accelerator, "--trainer.devices", "1",
            "--trainer.max_steps", str(s.ckpt_steps), "--trainer.limit_val_batches", "2",
            "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(ctx.work / "ckpt-fit"),
            *ctx.data_args()]
    t0 = time.perf_counter()
    fit = run_fit(args, keep_model=True)
    fit_s = time.perf_counter() - t0
    if fit["checkpoint"] is None:
        raise RuntimeError("the fit on the device wrote no last.ckpt")
    ctx.shared.setdefault("checkpoints", {})["tiny"] = fit["checkpoint"]
    trained = {k: v.detach().cpu() for k, v in fit.pop("model").state_dict().items()}
    on_cpu = load(fit["checkpoint"], map_location="cpu")
    on_dev = load(fit["checkpoint"], map_location=dev)
    weights = max(float((on_cpu.state_dict()[k] - v).abs().max()) for k, v in trained.items())
    x = mnist_images(64, split="test")
    atomic_save(x, ctx.work / "cpu-load-in.pt")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    out_file = ctx.work / "cpu-load-out.pt"
    t1 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "benchmarks.gpu.correct", "cpu-load", fit["checkpoint"],
                           str(ctx.work / "cpu-load-in.pt"), str(out_file)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=max(30.0, ctx.allowed()))
    if proc.returncode != 0:
        raise RuntimeError(f"loading on a CPU-only process failed: {proc.stderr.strip()[-400:]}")
    load_s = time.perf_counter() - t1
    from_cpu = torch.load(out_file, map_location="cpu", weights_only=True)
    with full_fp32(), torch.no_grad():
        from_dev = on_dev(x.to(dev)).x_hat.cpu()
    diff = float((from_dev.double() - from_cpu.double()).norm() / from_cpu.double().norm())
    return [
        row(f"regae fit on {ctx.label}: {fit['global_step']} steps, then test", fit_s, "s",
            note=f"checkpoint written on {fit['device']}; test PSNR {fit['test_psnr_db']:.2f} dB"),
        row("checkpoint read with map_location='cpu': weights vs the trained ones, max |difference|", weights, "", 0.0),
        row(f"outputs of 64 test images: a process with no visible GPU vs {ctx.label} (fp32, no TF32)", diff,
            "(relative)", 1e-5, note=f"the CPU-only process took {load_s:.1f} s (start, import, load, forward)"),
    ]


def stage_data(ctx: Context) -> list[dict]:
    s, dev = ctx.sizes, ctx.device
    on_dev = MNISTDataModule(batch_size=s.fit_batch, on_device=True, limit_train=s.data_limit_train)
    on_dev.trainer = make_trainer(accelerator=ctx.accelerator, devices=1, logger=False, enable_checkpointing=False,
                                  enable_progress_bar=False)
    on_dev.setup("fit")
    on_cpu = MNISTDataModule(batch_size=s.fit_batch, on_device=False, limit_train=s.data_limit_train)
    on_cpu.setup("fit")
    worst, batches, wrong_place, labels_differ = 0.0, 0, 0, 0
    for _ in range(2):  # two epochs: the second reshuffles
        loaders = [on_dev.train_dataloader(), on_cpu.train_dataloader()]
        if len(loaders[0]) != len(loaders[1]):
            raise RuntimeError(f"{len(loaders[0])} batches on the device, {len(loaders[1])} on the CPU")
        for (xd, yd), (xc, yc) in zip(*loaders):
            wrong_place += xd.device.type != dev.type
            worst = max(worst, float((xd.cpu() - xc).abs().max()))
            labels_differ += int((yd.cpu() != yc).sum())
            batches += 1
    for part in ("val", "test"):
        for (xd, _), (xc, _) in zip(getattr(on_dev, f"{part}_dataloader")(), getattr(on_cpu, f"{part}_dataloader")()):
            worst = max(worst, float((xd.cpu() - xc).abs().max()))
    dev_ms = _ms_per_batch(ctx, on_dev.train_dataloader(), move=False)
    cpu_ms = _ms_per_batch(ctx, on_cpu.train_dataloader(), move=True)
    return [
        row(f"training batches compared over 2 epochs (B={s.fit_batch})", batches, "batches"),
        row("images, on-device path vs CPU path (train, val, test): max |difference|", worst, "", 0.0),
        row("labels that differ", labels_differ, "labels", 0),
        row(f"batches not on {dev.type}", wrong_place, "batches", 0),
        row(f"on-device loader on {ctx.label}", dev_ms, "ms/batch", note="one gather and one float() on the device"),
        row(f"CPU loader + .to({dev.type}) per batch", cpu_ms, "ms/batch"),
    ]


def _ms_per_batch(ctx: Context, loader: Any, move: bool) -> float:
    ctx.sync()
    t0, n = time.perf_counter(), 0
    for x, y in loader:
        if move:
            x, y = x.to(ctx.device), y.to(ctx.device)
        n += 1
    ctx.sync()
    return (time.perf_counter() - t0) * 1000 / max(1, n)


def cpu_load(ckpt: str, inputs: str, out: str) -> None:
    """In a process that sees no GPU: the checkpoint's model on the CPU, its outputs for ``inputs``."""
    assert not torch.cuda.is_available(), "this process must not see a GPU"
    model = load(ckpt, map_location="cpu")
    x = torch.load(inputs, map_location="cpu", weights_only=True)
    with full_fp32(), torch.no_grad():
        atomic_save(model(x).x_hat, out)


if __name__ == "__main__" and sys.argv[1:2] == ["cpu-load"]:
    cpu_load(*sys.argv[2:5])

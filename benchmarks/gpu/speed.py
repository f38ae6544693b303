"""Stages that time regae's training step on the device against the chip's own ceilings.

* :func:`stage_ceilings`: what the chip does at best, measured in the same run (METHOD.md: measure
  them, don't take the datasheet's): a large bf16 matrix product (TFLOP/s) and a device-to-device
  copy (GB/s, bytes read plus written).
* :func:`stage_speed`: images/s of the plain, exact and Hutchinson steps (B = 128, the seed's), fp32
  and bf16 autocast, eager, with peak memory and the arithmetic rate the step reaches
  (``torch.utils.flop_counter``'s count over the step's time) as a share of the bf16 ceiling.
* :func:`stage_share`: the share of a plain step's wall time in which the GPU computes (kernel time
  from ``torch.profiler`` over a sync-free loop's time). A small U-Net on 28x28 images launches
  hundreds of short kernels, so the host's launch time can dominate: the stage also times the
  same step captured in one CUDA graph and at a bigger batch.
* :func:`stage_compile`: the same steps with the net ``torch.compile``d, compile time apart. The
  contractive penalties need a double backward, which AOTAutograd does not support: a variant
  that fails is reported with its error, and the rest go on.
"""

from __future__ import annotations

import gc

import torch

from benchmarks.gpu.context import Context
from benchmarks.gpu.results import row
from benchmarks.gpu.steps import (
    MODES,
    build_model,
    busy_seconds,
    graphed_step,
    make_step,
    median_seconds,
    mnist_images,
    peak_mib,
    reset_peak,
    step_flops,
    time_loop,
)

SHARE_TARGET = 0.5  # a plain step should keep the GPU computing at least half of its wall time


def _matmul_seconds(n: int, ctx: Context) -> float:
    gen = torch.Generator(device=ctx.device).manual_seed(0)
    a = torch.randn(n, n, device=ctx.device, dtype=torch.bfloat16, generator=gen)
    b = torch.randn(n, n, device=ctx.device, dtype=torch.bfloat16, generator=gen)
    return median_seconds(lambda: a @ b, ctx)


def _copy_seconds(mib: int, ctx: Context) -> float:
    gen = torch.Generator(device=ctx.device).manual_seed(1)
    src = torch.rand(mib * 2**20 // 4, device=ctx.device, generator=gen)
    dst = torch.empty_like(src)
    return median_seconds(lambda: dst.copy_(src), ctx)


def stage_ceilings(ctx: Context) -> list[dict]:
    s = ctx.sizes
    n = s.ceiling_matmul
    mm = _matmul_seconds(n, ctx)
    tflops = 2 * n**3 / mm / 1e12
    cp = _copy_seconds(s.ceiling_copy_mib, ctx)
    gbps = 2 * s.ceiling_copy_mib * 2**20 / cp / 1e9
    gc.collect()
    ctx.shared["ceilings"] = {"bf16_tflops": tflops, "copy_gbps": gbps}
    return [
        row(f"bf16 matrix product {n}x{n}x{n} on {ctx.label}, random data", tflops, "TFLOP/s",
            note=f"median of 10 after 3 warm-ups, {mm * 1e3:.3g} ms each"),
        row(f"device copy of {s.ceiling_copy_mib} MiB on {ctx.label}", gbps, "GB/s",
            note="bytes read + bytes written, median of 10"),
    ]


def _rate_note(flops: float | None, seconds: float, ctx: Context) -> str:
    if flops is None:
        return "FLOP count: the counter cannot follow this step"
    rate = flops / seconds / 1e12
    ceiling = ctx.shared.get("ceilings", {}).get("bf16_tflops")
    share = f" = {100 * rate / ceiling:.2g} % of the bf16 ceiling" if ceiling else ""
    return f"{flops / 1e9:.3g} GFLOP/step, {rate:.3g} TFLOP/s{share}"


def stage_speed(ctx: Context) -> list[dict]:
    s, dev, rows = ctx.sizes, ctx.device, []
    x = mnist_images(s.step_batch, dev)
    for mode in MODES:
        for bf16 in (False, True):
            prec = "bf16 autocast" if bf16 else "fp32"
            reset_peak(ctx)
            model = build_model(mode, dev)
            step = make_step(model, x, bf16)
            t = time_loop(step, ctx, cap_s=ctx.allowed() / 8)
            flops = step_flops(step)
            peak = peak_mib(ctx)
            mem = f"; peak {peak:,.0f} MiB" if peak is not None else "; peak memory: CUDA only"
            rows.append(row(f"{mode} step, {prec}, eager, B={s.step_batch}, {ctx.label}", s.step_batch / t["s_per_step"],
                            "images/s", note=f"{t['s_per_step'] * 1e3:.3g} ms/step over {t['steps']} steps{mem}; "
                                             f"{_rate_note(flops, t['s_per_step'], ctx)}"))
            ctx.shared.setdefault("step_s", {})[(mode, bf16)] = t["s_per_step"]
            del model, step
            gc.collect()
    return rows


def _share_row(label: str, batch: int, wall: float, busy: float | None, ctx: Context, note: str = "") -> dict:
    what = "kernel time" if ctx.cuda else "aten op self time"
    if busy is None:
        return row(f"{label}: share of wall time the device computes, {ctx.label}", None, "(fraction)",
                   note=f"the profiler recorded no {what}; {wall * 1e3:.3g} ms/step, {batch / wall:,.0f} images/s")
    return row(f"{label}: share of wall time the device computes, {ctx.label}", busy / wall, "(fraction)",
               SHARE_TARGET if ctx.cuda else None, op=">=", note=f"{what} {busy * 1e3:.3g} ms of {wall * 1e3:.3g} ms/step; "
                                           f"{batch / wall:,.0f} images/s{'; ' + note if note else ''}")


def stage_share(ctx: Context) -> list[dict]:
    s, dev, rows = ctx.sizes, ctx.device, []
    x = mnist_images(s.step_batch, dev)
    step = make_step(build_model("plain", dev), x)
    t = time_loop(step, ctx, cap_s=ctx.allowed() / 6)
    busy = busy_seconds(step, ctx, n=max(3, min(20, t["steps"])))
    share = busy / t["s_per_step"] if busy is not None else None
    rows.append(_share_row(f"plain fp32 step, eager, B={s.step_batch}", s.step_batch, t["s_per_step"], busy, ctx,
                           note="the target"))
    if not ctx.cuda:
        rows.append(row("same step captured in one CUDA graph", None, "(fraction)", note="not tried: needs CUDA"))
    else:
        try:
            replay = graphed_step(build_model("plain", dev), x)
            g = time_loop(replay, ctx, cap_s=ctx.allowed() / 6)
            rows.append(_share_row(f"same step in one CUDA graph, B={s.step_batch}", s.step_batch, g["s_per_step"],
                                   busy, ctx, note="kernel time of the eager step; graph replays launch the same "
                                                   f"kernels ({t['s_per_step'] / g['s_per_step']:.2f}x eager speed)"))
        except Exception as exc:  # noqa: BLE001 - report, don't crash
            rows.append(row("same step captured in one CUDA graph", None, "(fraction)",
                            note=f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"))
    big = mnist_images(s.big_batch, dev)
    step_big = make_step(build_model("plain", dev), big)
    tb = time_loop(step_big, ctx, cap_s=ctx.allowed() / 6)
    busy_big = busy_seconds(step_big, ctx, n=max(3, min(10, tb["steps"])))
    rows.append(_share_row(f"plain fp32 step, eager, B={s.big_batch}", s.big_batch, tb["s_per_step"], busy_big, ctx,
                           note="the bigger batch"))
    if ctx.cuda and share is not None and share < SHARE_TARGET:
        rows[0]["note"] += "; below target: see the CUDA graph and bigger-batch rows"
    return rows


def stage_compile(ctx: Context) -> list[dict]:
    """Compiled variants, the plain step first; a mode whose fp32 compile fails is not tried again in bf16,
    and a variant is only started when the time left covers the slowest compile so far, twice over."""
    s, dev, rows = ctx.sizes, ctx.device, []
    x = mnist_images(s.step_batch, dev)
    failed: dict[str, str] = {}
    slowest = 0.0
    for mode in MODES:
        for bf16 in (False, True):
            prec = "bf16 autocast" if bf16 else "fp32"
            label = f"{mode} step, {prec}, torch.compile({s.compile_backend}), B={s.step_batch}, {ctx.label}"
            if mode in failed:
                rows.append(row(label, None, "images/s", note=f"not tried: the fp32 compile failed ({failed[mode]})"))
                continue
            if slowest and not ctx.deadline.allows(2 * slowest, ctx.reserve_s):
                rows.append(row(label, None, "images/s",
                                note=f"not tried: {ctx.allowed():.0f} s left, the slowest compile took {slowest:.0f} s"))
                continue
            torch._dynamo.reset()
            reset_peak(ctx)
            try:
                step = make_step(build_model(mode, dev), x, bf16, compile_backend=s.compile_backend)
                t = time_loop(step, ctx, cap_s=ctx.allowed() / 8)
            except Exception as exc:  # noqa: BLE001 - e.g. no double backward under AOTAutograd
                first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
                failed[mode] = f"{type(exc).__name__}: {first}"
                rows.append(row(label, None, "images/s", note=f"fails: {failed[mode]}"))
                continue
            slowest = max(slowest, t["first_s"])
            eager = ctx.shared.get("step_s", {}).get((mode, bf16))
            vs = f"; {eager / t['s_per_step']:.2f}x eager" if eager else ""
            peak = peak_mib(ctx)
            mem = f"; peak {peak:,.0f} MiB" if peak is not None else ""
            rows.append(row(label, s.step_batch / t["s_per_step"], "images/s",
                            note=f"first call (compiling) {t['first_s']:.1f} s; {t['s_per_step'] * 1e3:.3g} ms/step"
                                 f"{vs}{mem}"))
            gc.collect()
    return rows

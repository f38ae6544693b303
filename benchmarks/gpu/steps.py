"""regae's training step as the GPU check builds and times it.

A step is what ``AutoEncoder.training_step`` costs without Lightning: ``_shared_step`` (forward,
MSE, the weighted penalty), backward and Adam, on the seed's U-Net (no skips, 16/32/64 channels,
d = 32). Modes: ``plain`` (no penalty), ``exact`` (contractive, exact Jacobian through
``torch.func``; ``chunk_size: auto`` takes all d cotangents in one ``vmap`` on CUDA) and
``hutchinson`` (contractive, one random probe). ``benchmarks/bench_gpu.py`` builds the same step,
but with CUDA autocast and inductor fixed; the dry run on a CPU needs both to follow the device.

Timing follows benchmarks/README.md and the device notes: warm up, then a loop of steps with no
synchronisation inside it, timed by CUDA events (``time.perf_counter`` on a CPU).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from benchmarks.gpu.context import Context
from regae import AutoEncoder
from regae.data import load_dataset
from regae.data.dataset import to_float

MODES = ("plain", "exact", "hutchinson")


def regularizers(mode: str) -> list[dict[str, Any]]:
    """The seed's penalty of each mode (contractive, weight 1e-4)."""
    if mode == "plain":
        return []
    return [{"name": "contractive", "weight": 1e-4, "mode": mode}]


def build_model(mode: str, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                seed: int = 0) -> AutoEncoder:
    """``AutoEncoder(arch="unet", latent_dim=32)`` with ``mode``'s penalty; the same weights for the same seed
    on every device (initialised on the CPU, then moved)."""
    torch.manual_seed(seed)
    return AutoEncoder(arch="unet", latent_dim=32, regularizers=regularizers(mode)).to(device=device, dtype=dtype)


def mnist_images(n: int, device: torch.device | str = "cpu", split: str = "train") -> torch.Tensor:
    """The first ``n`` MNIST images of ``split`` (real digits, not zeros) as float (n, 1, 28, 28) in [0, 1];
    repeated when ``n`` exceeds the split."""
    images = getattr(load_dataset("mnist"), split).images
    reps = -(-n // len(images))
    images = images.repeat(reps, 1, 1) if reps > 1 else images
    return to_float(images[:n]).to(device)


def write_small_mnist(path: Path, n_train: int, n_test: int) -> str:
    """The first MNIST digits of each split as an ``npz`` dataset (``images``, ``labels``, ``test_images``,
    ``test_labels``): the dry run trains and reports on it, so its report reads ``n_test`` test images, not
    10,000. Returns its ``--data.dataset`` value."""
    data = load_dataset("mnist")
    np.savez(path, images=data.train.images[:n_train].numpy(), labels=data.train.labels[:n_train].numpy(),
             test_images=data.test.images[:n_test].numpy(), test_labels=data.test.labels[:n_test].numpy())
    return f"npz:{path}"


def autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on ``device``'s type, or nothing."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def make_step(model: AutoEncoder, x: torch.Tensor, bf16: bool = False,
              compile_backend: str | None = None) -> Callable[[], torch.Tensor]:
    """One training step on the batch ``x`` (Adam, lr 1e-3): returns the loss (not synchronised).

    With ``compile_backend`` the net is ``torch.compile``d (the first call compiles)."""
    if compile_backend is not None:
        model.net = torch.compile(model.net, backend=compile_backend)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> torch.Tensor:
        with autocast(x.device, bf16):
            loss, _, _ = model._shared_step((x, None), "train")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()

    return step


def graphed_step(model: AutoEncoder, x: torch.Tensor) -> Callable[[], None]:
    """The plain fp32 step captured whole in one CUDA graph (PyTorch's whole-network recipe: warm-up on a
    side stream, Adam with ``capturable=True``); returns the graph's replay. The step's noise generator is
    switched off (a plain step draws no noise), so no generator is made inside the capture."""
    model.step_generator = lambda: None  # type: ignore[method-assign]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, capturable=True)

    def step() -> None:
        loss, _, _ = model._shared_step((x, None), "train")
        loss.backward()
        opt.step()

    side = torch.cuda.Stream(device=x.device)
    side.wait_stream(torch.cuda.current_stream(x.device))
    with torch.cuda.stream(side):
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            step()
    torch.cuda.current_stream(x.device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def time_loop(step: Callable[[], Any], ctx: Context, warmup: int = 3, cap_s: float | None = None) -> dict[str, float]:
    """Seconds per step of ``step`` in a loop with no synchronisation inside it.

    The first call is timed alone (``first_s``: compiling, cuDNN's choices), then ``warmup - 1`` more;
    the timed loop runs about ``sizes.min_timed_s`` (at most ``sizes.max_timed_steps`` steps, and
    within ``cap_s``)."""
    t0 = time.perf_counter()
    step()
    ctx.sync()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(max(0, warmup - 1)):
        step()
    ctx.sync()
    est = (time.perf_counter() - t0) / max(1, warmup - 1) if warmup > 1 else first
    budget = ctx.sizes.min_timed_s if cap_s is None else min(ctx.sizes.min_timed_s, cap_s)
    n = int(max(3, min(ctx.sizes.max_timed_steps, budget / max(est, 1e-6))))
    seconds = loop_seconds(step, ctx, n)
    return {"s_per_step": seconds / n, "steps": n, "first_s": first}


def loop_seconds(fn: Callable[[], Any], ctx: Context, n: int) -> float:
    """Seconds for ``n`` calls of ``fn`` back to back: CUDA events around the loop, or the CPU clock."""
    if ctx.cuda:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(n):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1000
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - t0


def median_seconds(fn: Callable[[], Any], ctx: Context, reps: int = 10, warmup: int = 3) -> float:
    """Median seconds of one call of ``fn`` (timed one at a time, after ``warmup`` calls)."""
    for _ in range(warmup):
        fn()
    ctx.sync()
    return statistics.median(loop_seconds(fn, ctx, 1) for _ in range(reps))


def peak_mib(ctx: Context) -> float | None:
    """Peak CUDA memory allocated since the last reset, MiB (None on a CPU)."""
    return torch.cuda.max_memory_allocated(ctx.device) / 2**20 if ctx.cuda else None


def reset_peak(ctx: Context) -> None:
    if ctx.cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(ctx.device)


class _FlopCount(TorchDispatchMode):
    """Sums ``torch.utils.flop_counter``'s counts of every op dispatched in the block. FlopCounterMode
    itself tracks modules with backward hooks, which ``autograd.grad`` inside a step (the penalties)
    does not allow; this counts the same ops (equal totals on the plain step) without the hooks."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += count(*args, **kwargs, out_val=out)
        return out


def step_flops(step: Callable[[], Any]) -> float | None:
    """Floating-point operations of one call of ``step`` (matrix products and convolutions, as
    ``torch.utils.flop_counter`` counts them; None where the count fails)."""
    try:
        with _FlopCount() as counter:
            step()
        return float(counter.total)
    except Exception:  # noqa: BLE001 - a private torch interface: a figure lost, not the stage
        return None


def busy_seconds(step: Callable[[], Any], ctx: Context, n: int) -> float | None:
    """Seconds per step the device itself works: on CUDA the summed durations of its kernels, copies and
    sets (``torch.profiler``), on a CPU the summed self time of the ``aten::`` ops; None when the profiler
    recorded none (a profiler that cannot read the device)."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if ctx.cuda else [])
    with profile(activities=activities) as prof:
        for _ in range(n):
            step()
        ctx.sync()
    events = prof.events()
    if ctx.cuda:
        us = sum(e.time_range.elapsed_us() for e in events if e.device_type == DeviceType.CUDA)
    else:
        us = sum(e.self_cpu_time_total for e in events if e.device_type == DeviceType.CPU and e.name.startswith("aten::"))
    return us / 1e6 / n if us > 0 else None

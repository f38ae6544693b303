"""Stages that train with ``regae fit`` on the device: what a user waits for.

* :func:`stage_precision`: the same short fit (300 steps of the sparse preset) in fp32 and with
  ``--trainer.precision bf16-mixed``: test PSNR within 0.1 dB.
* :func:`stage_sparse` and :func:`stage_exact`: the seed's 20-epoch fits (``--config sparse``,
  ``--config contractive``: exact penalty) each in a child process, as ``regae fit`` runs (start-up,
  data, fit, test), timed from outside. A fit that would overrun its share of the deadline stops at
  an epoch end and its 20-epoch time is extrapolated from the epochs it ran, and says so.
* :func:`stage_sweep`: the sparse fit at a few batch sizes for the same epochs: the largest batch whose
  test PSNR stays within 0.2 dB of batch 128's, with its time (fixed epochs, not a converged run).
* :func:`stage_compare`: ``regae compare``'s report on the two checkpoints, timed, and ``regae compare
  --full`` as the sum of its parts (the two fits and the report).
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from typing import Any

import torch

from benchmarks.gpu.budget import epochs_that_fit, extrapolate_fit, largest_within
from benchmarks.gpu.context import ROOT, Context
from benchmarks.gpu.fitrun import run_fit
from benchmarks.gpu.results import row

TARGETS_S = {"sparse": 60.0, "contractive": 300.0}  # issue #26: 20 epochs on one GPU
PSNR_BF16_DB = 0.1
SWEEP_TOLERANCE_DB = 0.2


def child_env() -> dict[str, str]:
    """The environment of a child: the repository first on PYTHONPATH (the carried wheels' folder stays)."""
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}


def base_args(ctx: Context, config: str, root: str) -> list[str]:
    return ["--config", config, "--trainer.accelerator", ctx.accelerator, "--trainer.devices", "1",
            "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(ctx.work / root)]


def quick_args(ctx: Context) -> list[str]:
    """The dry run's data limits and batch; nothing on the GPU (the seed's sizes)."""
    return [*ctx.data_args(), "--data.batch_size", str(ctx.sizes.fit_batch)] if ctx.quick else []


def free(ctx: Context) -> None:
    gc.collect()
    if ctx.cuda:
        torch.cuda.empty_cache()


def stage_precision(ctx: Context) -> list[dict]:
    s, psnr, rows = ctx.sizes, {}, []
    for precision in ("32-true", "bf16-mixed"):
        args = [*base_args(ctx, "sparse", f"precision-{precision}"), "--trainer.max_steps", str(s.precision_steps),
                "--trainer.limit_val_batches", "0", "--trainer.enable_checkpointing", "false",
                "--trainer.logger", "false", "--trainer.precision", precision, *ctx.data_args()]
        t0 = time.perf_counter()
        fit = run_fit(args)
        wall = time.perf_counter() - t0
        psnr[precision] = fit["test_psnr_db"]
        rows.append(row(f"sparse, {s.precision_steps} steps, --trainer.precision {precision}: test PSNR",
                        fit["test_psnr_db"], "dB",
                        note=f"{wall:.1f} s in process (fit {fit['fit_s']:.1f} s, "
                             f"{fit['global_step'] / max(fit['fit_s'], 1e-9):,.1f} steps/s) on {ctx.label}"))
        free(ctx)
    diff = abs(psnr["bf16-mixed"] - psnr["32-true"])
    rows.append(row("|bf16-mixed − fp32| test PSNR, same seed and batches", diff, "dB", PSNR_BF16_DB,
                    note="fp32 here is Lightning's default (cuDNN may use TF32 for convolutions)"))
    return rows


def child_fit(ctx: Context, name: str, fit_args: list[str], allowed_s: float) -> dict[str, Any]:
    """``fitrun.py`` in a child process, stopped by its own clock within ``allowed_s``; its figures plus
    ``wall_s`` measured here. The child's output goes to this log."""
    result = ctx.work / f"{name}.json"
    reserve = 2.0 if ctx.quick else 10.0  # the test pass after the fit
    cmd = [sys.executable, str(ROOT / "benchmarks" / "gpu" / "fitrun.py"), "--json", str(result),
           "--allowed-s", f"{max(1.0, allowed_s - 5):.1f}", "--reserve-s", str(reserve)]
    if ctx.sizes.stop_after_epochs is not None:
        cmd += ["--stop-after", str(ctx.sizes.stop_after_epochs)]
    hard = min(allowed_s + 30, max(allowed_s, ctx.deadline.remaining() - 2))
    t0 = time.perf_counter()
    try:
        subprocess.run([*cmd, "--", *fit_args], cwd=ROOT, env=child_env(), check=True, timeout=hard)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{name}: the fit did not stop itself and was killed after {hard:.0f} s") from None
    wall = time.perf_counter() - t0
    out = json.loads(result.read_text())
    out["wall_s"] = wall
    return out


def user_fit(ctx: Context, name: str, config: str) -> list[dict]:
    """The seed's 20-epoch ``config`` fit, timed in a child; extrapolated when it had to stop early."""
    s = ctx.sizes
    allowed = ctx.allowed()
    fit = child_fit(ctx, name, [*base_args(ctx, config, name), *quick_args(ctx)], allowed)
    if fit["checkpoint"]:
        ctx.shared.setdefault("checkpoints", {})[name] = fit["checkpoint"]
    total, extrapolated = extrapolate_fit(fit["wall_s"], fit["fit_s"], fit["epochs_done"], s.epochs)
    ctx.shared.setdefault("twenty_epochs_s", {})[name] = (total, extrapolated)
    if fit["epoch_s"]:
        ctx.shared.setdefault("epoch_s", {})[name] = sum(fit["epoch_s"]) / len(fit["epoch_s"])
    why = (f"the dry run stops after {s.stop_after_epochs}" if s.stop_after_epochs is not None
           else f"stopped to end within the {allowed:.0f} s it was allowed")
    how = (f"extrapolated from {fit['epochs_done']:.3g} of {s.epochs} epochs ({why})" if extrapolated
           else f"measured: all {s.epochs} epochs")
    images = fit["global_step"] * s.fit_batch / max(fit["fit_s"], 1e-9)
    psnr = fit["test_psnr_db"]
    return [
        row(f"{config}: {s.epochs}-epoch regae fit --config {config} on {ctx.label}, wall", total, "s",
            None if ctx.quick else TARGETS_S.get(name),  # the dry run's figures are no GPU's
            note=f"{how}; child process: start-up, data, fit, test"),
        row(f"{config}: one epoch (training + validation)", sum(fit["epoch_s"]) / max(1, len(fit["epoch_s"])), "s",
            note=f"{len(fit['epoch_s'])} epochs, {fit['steps_per_epoch']} steps each; "
                 f"{images:,.0f} training images/s overall"),
        row(f"{config}: outside the epochs (start-up, imports, data, build, test)", fit["wall_s"] - fit["fit_s"], "s",
            note=f"test {fit['test_s']:.1f} s"),
        row(f"{config}: test PSNR after {fit['epochs_done']:.3g} epochs", psnr, "dB",
            note="" if psnr is not None else "no test result"),
    ]


def stage_sparse(ctx: Context) -> list[dict]:
    return user_fit(ctx, "sparse", "sparse")


def stage_exact(ctx: Context) -> list[dict]:
    return user_fit(ctx, "contractive", "contractive")


def stage_sweep(ctx: Context) -> list[dict]:
    s, rows, psnr, seconds = ctx.sizes, [], {}, {}
    epoch_128 = ctx.shared.get("epoch_s", {}).get("sparse") or (1.0 if ctx.quick else 10.0)
    fixed = 2.0 if ctx.quick else 10.0  # building, reading the data, testing: per fit
    epochs = epochs_that_fit(ctx.allowed() / len(s.sweep_batches), fixed, epoch_128, s.sweep_epochs)
    for batch in s.sweep_batches:
        need = fixed + epoch_128 * epochs  # a bigger batch takes no longer per epoch
        if psnr and not ctx.deadline.allows(need, ctx.reserve_s):
            rows.append(row(f"batch {batch}: test PSNR after {epochs} epoch(s)", None, "dB",
                            note=f"not run: {ctx.allowed():.0f} s left, needs about {need:.0f} s"))
            continue
        args = [*base_args(ctx, "sparse", f"sweep-{batch}"), "--data.batch_size", str(batch),
                "--trainer.max_epochs", str(epochs), "--trainer.limit_val_batches", "0",
                "--trainer.enable_checkpointing", "false", "--trainer.logger", "false", *ctx.data_args()]
        t0 = time.perf_counter()
        fit = run_fit(args)
        seconds[batch] = time.perf_counter() - t0
        psnr[batch] = fit["test_psnr_db"]
        rows.append(row(f"batch {batch}: test PSNR after {epochs} epoch(s) (sparse, lr 1e-3)", psnr[batch], "dB",
                        note=f"{seconds[batch]:.1f} s in process, fit {fit['fit_s']:.1f} s, "
                             f"{fit['global_step']} steps, {fit['global_step'] * batch / max(fit['fit_s'], 1e-9):,.0f} "
                             f"images/s on {ctx.label}"))
        free(ctx)
    ref = s.sweep_batches[0]
    best = largest_within({b: p for b, p in psnr.items() if p is not None}, ref, SWEEP_TOLERANCE_DB)
    if best is not None:
        rows.append(row(f"largest batch within {SWEEP_TOLERANCE_DB} dB of batch {ref}'s test PSNR "
                        f"({epochs} epoch(s) each)", best, "images/batch",
                        note=f"{seconds[best]:.1f} s vs {seconds[ref]:.1f} s at batch {ref} "
                             f"({psnr[best]:.2f} vs {psnr[ref]:.2f} dB); same epochs, same learning rate"))
    return rows


def stage_compare(ctx: Context) -> list[dict]:
    """``regae compare``'s report on this run's checkpoints, timed; ``--full`` = the two fits + the report."""
    ckpts = ctx.shared.get("checkpoints", {})
    sparse = ckpts.get("sparse") or ckpts.get("tiny")
    exact = ckpts.get("contractive") or ckpts.get("tiny")
    if not sparse or not exact:
        raise RuntimeError("no checkpoint from an earlier stage to report on")
    cmd = [sys.executable, "-m", "regae", "compare", "--ckpt", f"sparse={sparse}", "--ckpt", f"contractive={exact}",
           "--out", str(ctx.work / "report"), *ctx.sizes.report_args]
    allowed = ctx.allowed()
    t0 = time.perf_counter()
    try:
        subprocess.run(cmd, cwd=ROOT, env=child_env(), check=True, timeout=max(1.0, allowed))
        report_s: float | None = time.perf_counter() - t0
        note = "the analysis of two checkpoints (regae compare --ckpt ...; --device cpu, its default)"
    except subprocess.TimeoutExpired:
        report_s, note = None, f"the report did not finish in the {allowed:.0f} s left (more than that)"
    if ctx.sizes.report_args:
        note += f"; analysis sizes {' '.join(ctx.sizes.report_args)}"
    rows = [row(f"regae compare report on {ctx.label}'s machine", report_s, "s", note=note)]
    twenty = ctx.shared.get("twenty_epochs_s", {})
    if report_s is not None and {"sparse", "contractive"} <= set(twenty):
        parts = [twenty["sparse"], twenty["contractive"]]
        guessed = " (fits extrapolated as above)" if any(e for _, e in parts) else ""
        rows.append(row(f"regae compare --full on {ctx.label} (estimated: sum of its parts)",
                        sum(t for t, _ in parts) + report_s, "s",
                        note=f"20-epoch sparse + 20-epoch exact contractive + report{guessed}; each part "
                             "started its own process, so start-up is counted three times"))
    else:
        rows.append(row("regae compare --full (estimated)", None, "s",
                        note="needs both 20-epoch fits and the report from this run"))
    return rows

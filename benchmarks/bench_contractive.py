"""Target 2, exact contractive penalty: full training step of the U-Net (no skips), d=32, B=128.

A step is forward + MSE reconstruction + λ·‖∂h/∂x‖²_F + backward + Adam. Formulations:

* ``naive``: ``regae.regularizers.frobenius_per_sample`` — ``vmap(jacrev)`` per sample.
* ``hand loop``: d calls ``torch.autograd.grad(h[:, k].sum(), x, create_graph=True)`` on the
  training forward's graph (samples are independent, so one VJP gives row k for all).
* ``regae exact``: the default ``Contractive(mode='exact')`` through ``AutoEncoder._shared_step``
  (VJPs on the training graph, one latent unit at a time).
* ``torch.func c=1 / c=8 / c=all``: ``frobenius_exact`` (own forward under ``torch.func.vjp``,
  ``vmap`` over chunks of c unit cotangents).
* ``jacfwd`` (forward mode, 784 tangents per sample) is timed on 4 samples only, next to the
  hand loop on the same 4 — it is hopeless at 128.
* ``--compile``: ``torch.compile`` of the encoder under the hand loop (AOTAutograd has no
  double backward: the script reports the error and that regae stays eager).

    python benchmarks/bench_contractive.py [--device cuda] [--batch 128]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.func import jacfwd, vmap

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Result, Settings, add_arguments, describe, report, settings, time_interleaved  # noqa: E402

from regae import AutoEncoder  # noqa: E402
from regae.regularizers.contractive import (  # noqa: E402
    _as_function,
    frobenius_exact,
    frobenius_hand_loop,
    frobenius_per_sample,
)

LAMBDA = 1e-4



def jacfwd_per_sample(encoder: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    f = _as_function(encoder)
    jac = vmap(jacfwd(lambda xi: f(xi.unsqueeze(0)).squeeze(0)))(x)  # (B, d, 1, 28, 28)
    return jac.pow(2).flatten(1).sum(1)


def make_model(device: torch.device, **contractive) -> AutoEncoder:
    torch.manual_seed(0)
    spec = {"name": "contractive", "weight": LAMBDA, "mode": "exact", **contractive}
    return AutoEncoder(arch="unet", latent_dim=32, regularizers=[spec]).to(device)


def custom_step(model: AutoEncoder, opt: torch.optim.Optimizer, x: torch.Tensor, penalty) -> torch.Tensor:
    """forward + recon + λ·penalty(encoder, x, h) + backward + Adam; returns the penalty."""
    x = x.detach().requires_grad_(True)
    out = model.net(x)
    pen = penalty(model.net.encoder, x, out.h).mean()
    loss = F.mse_loss(out.x_hat, x.detach()) + LAMBDA * pen
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return pen.detach()


def regae_step(model: AutoEncoder, opt: torch.optim.Optimizer, x: torch.Tensor) -> torch.Tensor:
    """regae's own training step code path (the LightningModule's shared step)."""
    loss, _, terms = model._shared_step((x, None), "train")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return terms["reg/contractive"].detach()


def variants(x: torch.Tensor, device: torch.device) -> dict:
    """name -> (step callable, penalty-at-initial-weights)."""
    out = {}
    specs = {
        "naive vmap(jacrev)": lambda e, xx, h: frobenius_per_sample(e, xx.detach()),
        "hand loop": lambda e, xx, h: frobenius_hand_loop(h, xx),
        "torch.func c=1": lambda e, xx, h: frobenius_exact(e, xx.detach(), 1),
        "torch.func c=8": lambda e, xx, h: frobenius_exact(e, xx.detach(), 8),
        "torch.func c=all": lambda e, xx, h: frobenius_exact(e, xx.detach(), None),
    }
    for name, pen in specs.items():
        model = make_model(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        out[name] = ((lambda m=model, o=opt, p=pen: custom_step(m, o, x, p)), None)
    model = make_model(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    out["regae exact (default)"] = ((lambda: regae_step(model, opt, x)), None)
    return out


def values_agree(x: torch.Tensor, device: torch.device) -> float:
    """Max relative difference of the penalty between all formulations at the same weights."""
    model = make_model(device)
    enc = model.net.encoder
    xx = x.detach().requires_grad_(True)
    h = enc(xx)
    vals = [frobenius_per_sample(enc, x), frobenius_hand_loop(h, xx).detach()]
    vals += [frobenius_exact(enc, x, c).detach() for c in (1, 8, None)]
    vals.append(model._shared_step((x, None), "train")[2]["reg/contractive"].detach().expand(x.shape[0]))
    ref = vals[0].mean()
    return max(((v.mean() - ref).abs() / ref).item() for v in vals)


def try_compile(x: torch.Tensor, device: torch.device) -> str:
    model = make_model(device)
    enc = torch.compile(model.net.encoder)
    t0 = time.perf_counter()
    try:
        xx = x[:16].detach().requires_grad_(True)
        frobenius_hand_loop(enc(xx), xx).mean().backward()
        return f"compiled hand loop ran ({time.perf_counter() - t0:.0f} s incl. compile)"
    except Exception as e:  # noqa: BLE001 - report whatever the compiler raised
        return f"{type(e).__name__}: {str(e).splitlines()[0][:120]} (after {time.perf_counter() - t0:.0f} s)"


def run(s: Settings, batch: int) -> list[Result]:
    dev = s.device
    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 1, 28, 28, generator=g).to(dev)
    rel = values_agree(x[: min(batch, 32)], dev)
    var = variants(x, dev)
    cheap = {"torch.func c=8": 1, "torch.func c=all": 1}  # documented, no target: one timed round
    t = time_interleaved({k: v[0] for k, v in var.items()}, s, repeats=cheap)
    xs = x[:4]
    enc8 = make_model(dev).net.encoder
    t8 = time_interleaved({
        "hand loop (B=4)": lambda: (lambda xx: frobenius_hand_loop(enc8(xx), xx).mean().backward())(xs.clone().requires_grad_(True)),
        "jacfwd (B=4)": lambda: jacfwd_per_sample(enc8, xs).mean().backward(),
    }, s, repeats={"jacfwd (B=4)": 1, "hand loop (B=4)": 1})
    ours, naive, hand = t["regae exact (default)"], t["naive vmap(jacrev)"], t["hand loop"]
    table = "; ".join(f"{k} {v:.2f}s" for k, v in {**t, **t8}.items())
    ctx = f"B={batch}, d=32; {describe(s)}"
    results = [
        Result("contractive: regae exact step / naive vmap(jacrev) step", ours / naive, 0.25, "<=", ctx),
        Result("contractive: regae exact step / hand loop of d VJPs", ours / hand, 1.3, "<=", ctx),
        Result("contractive: torch.func (c=1, own forward) step / hand loop", t["torch.func c=1"] / hand, 1.3, "<=",
               "frobenius_exact, the torch.func formulation"),
        Result("contractive: penalty max rel. difference between formulations", rel, 1e-4, "<=",
               "naive, hand, torch.func c=1/8/all, regae default; float32"),
        Result("contractive: step times (s)", ours, None, detail=table),
    ]
    if s.compile:
        results.append(Result("contractive: torch.compile encoder + double backward", None,
                              skipped=try_compile(x, dev)))
    return results


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args(argv)
    s = settings(args)
    if s.device.type == "cuda" and not torch.cuda.is_available():
        results = [Result("contractive: exact penalty step", None, skipped="no CUDA")]
    else:
        results = run(s, 32 if s.quick else args.batch)
    report(results)
    return results


if __name__ == "__main__":
    main()

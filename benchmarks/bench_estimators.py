"""Contractive penalty estimators at equal cost: exact vs exact on an m-subset vs Hutchinson (k probes).

Three parts, on the seed's U-Net without skips (16/32/64 channels, d = 32, B = 128, λ = 1e-4):

1. **cost**: CPU time of one training step (forward, MSE + λ·penalty, backward, Adam) per variant,
   interleaved rounds, median (see common.py).
2. **variance** at fixed weights (``--ckpt``, e.g. a partly trained sparse U-Net; default: the
   initial weights): R draws of each estimator on one batch against the exact value. Reported:
   relative std of the penalty, relative mean squared error of its gradient w.r.t. the encoder's
   parameters E‖g − g*‖² / ‖g*‖² (the estimators are unbiased, so this is their variance), and
   that error times the step cost (lower = more accuracy per second). For scale, the same
   gradient error of the *exact* penalty between different batches (minibatch noise) is shown.
3. **training** (``--train-seconds S``): each variant trains from the same initial weights on the
   same batches until it has used S seconds of CPU time; then test PSNR (all 10,000 test images),
   the exact penalty on 512 test images, and 5-NN / logistic-regression accuracy on the codes
   (10,000 training images) are measured for every variant.

    python benchmarks/bench_estimators.py [--ckpt runs/full/sparse/checkpoints/last.ckpt]
        [--draws 64] [--train-seconds 600] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Result, add_arguments, describe, machine, report, settings, time_interleaved  # noqa: E402

from regae import AutoEncoder, MNISTDataModule, load_split  # noqa: E402
from regae.analysis.probe import probe  # noqa: E402
from regae.model.inference import (
    encode,  # noqa: E402
    test_psnr,  # noqa: E402
)
from regae.regularizers.contractive import frobenius_exact  # noqa: E402

LAMBDA = 1e-4
#: name -> contractive spec (besides name/weight); None = no penalty
VARIANTS: dict[str, dict | None] = {
    "plain (no penalty)": None,
    "exact (torch.func, c=1)": {"mode": "exact"},
    "exact (training graph, c=1)": {"mode": "exact", "reuse_forward": True},
    "exact (torch.func, c=4)": {"mode": "exact", "chunk_size": 4},
    "exact subset m=8": {"mode": "exact", "samples": 8},
    "exact subset m=16": {"mode": "exact", "samples": 16},
    "exact subset m=32": {"mode": "exact", "samples": 32},
    "hutchinson k=1": {"mode": "hutchinson", "probes": 1},
    "hutchinson k=4": {"mode": "hutchinson", "probes": 4},
}
TRAINED = ["exact (torch.func, c=1)", "exact subset m=16", "hutchinson k=1", "hutchinson k=4"]


def make(spec: dict | None, state: dict | None = None, widths=(16, 32, 64)) -> AutoEncoder:
    torch.manual_seed(0)
    regs = [{"name": "contractive", "weight": LAMBDA, **spec}] if spec is not None else None
    model = AutoEncoder(arch="unet", widths=list(widths), latent_dim=32, regularizers=regs, seed=0)
    if state is not None:
        model.load_state_dict(state)
    return model


def step_fn(model: AutoEncoder, opt: torch.optim.Optimizer, x: torch.Tensor):
    def step() -> None:
        loss, _, _ = model._shared_step((x, None), "train")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def costs(x: torch.Tensor, s, state: dict | None) -> dict[str, float]:
    fns = {}
    for name, spec in VARIANTS.items():
        model = make(spec, state)
        fns[name] = step_fn(model, torch.optim.Adam(model.parameters(), 1e-3), x)
    return time_interleaved(fns, s)


def penalty_and_grad(model: AutoEncoder, x: torch.Tensor, gen: torch.Generator) -> tuple[float, torch.Tensor]:
    reg = model.regularizers[0]
    enc = model.net.encoder
    params = [p for p in enc.parameters()]
    xin = x.detach().requires_grad_(reg.needs_input_grad)
    h = model.net.encode(xin)
    pen = reg(model.net, xin, h, gen)
    grads = torch.autograd.grad(pen, params)
    return pen.item(), torch.cat([g.flatten() for g in grads])


def variance(x: torch.Tensor, others: list[torch.Tensor], state: dict | None, draws: int) -> dict[str, dict]:
    exact_model = make({"mode": "exact"}, state)
    p_star, g_star = penalty_and_grad(exact_model, x, torch.Generator().manual_seed(0))
    out = {}
    between = [penalty_and_grad(exact_model, xb, torch.Generator())[1] for xb in others]
    out["exact, other batches (minibatch noise)"] = {
        "rel_std_penalty": None,
        "grad_rel_mse": float(np.mean([((g - g_star).norm() ** 2 / g_star.norm() ** 2).item() for g in between])),
    }
    for name, spec in VARIANTS.items():
        if spec is None or not name.startswith(("exact subset", "hutchinson")):
            continue
        model = make(spec, state)
        vals, errs = [], []
        for r in range(draws):
            p, g = penalty_and_grad(model, x, torch.Generator().manual_seed(1000 + r))
            vals.append(p)
            errs.append(((g - g_star).norm() ** 2 / g_star.norm() ** 2).item())
        out[name] = {"rel_std_penalty": float(np.std(vals) / p_star), "rel_bias_penalty": float(np.mean(vals) / p_star - 1),
                     "grad_rel_mse": float(np.mean(errs))}
    out["exact"] = {"penalty": p_star, "grad_norm": g_star.norm().item()}
    return out


def train_for(spec: dict, seconds: float, state0: dict) -> tuple[AutoEncoder, int]:
    model = make(spec, state0)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    data = MNISTDataModule(batch_size=128)
    data.setup("fit")
    loader = data.train_dataloader()
    steps, used = 0, 0.0
    # outside a Trainer global_step stays 0: give each step its own noise (probes, subsets) as fit does
    model.step_generator = lambda: torch.Generator().manual_seed(1_000_003 + steps)
    while used < seconds:
        for x, _ in loader:
            t0 = time.process_time()
            loss, _, _ = model._shared_step((x, None), "train")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            used += time.process_time() - t0
            steps += 1
            if used >= seconds:
                break
    return model.eval(), steps


def evaluate(model: AutoEncoder, train, test) -> dict[str, float]:
    psnr, _ = test_psnr(model, test.images)
    x = test.images[:512].unsqueeze(1).float().div(255)
    pen = float(np.mean([frobenius_exact(model.net.encoder, x[i:i + 128]).mean().item() for i in range(0, 512, 128)]))
    idx = torch.randperm(len(train.images), generator=torch.Generator().manual_seed(0))[:10_000]
    acc = probe(encode(model, train.images[idx]).numpy(), train.labels[idx].numpy(),
                encode(model, test.images).numpy(), test.labels.numpy())
    return {"test_psnr_db": psnr, "exact_penalty_test": pen, **{f"acc {k}": v for k, v in acc.items()}}


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--ckpt", help="weights for the variance part (a regae U-Net checkpoint of the seed's width)")
    parser.add_argument("--draws", type=int, default=64, help="estimator draws in the variance part (default 64)")
    parser.add_argument("--train-seconds", type=float, default=0, help="CPU seconds of training per variant (0: skip)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args(argv)
    s = settings(args)
    print(f"machine: {machine()}; {describe(s)}", flush=True)
    state = None
    if args.ckpt:
        from regae import read_checkpoint
        state = {k: v for k, v in read_checkpoint(args.ckpt)["state_dict"].items()}
    test = load_split("test")
    xs = test.images.unsqueeze(1).float().div(255)
    x = xs[:128]
    t = costs(x, s, state)
    plain = t["plain (no penalty)"]
    print("step cost (s): " + "; ".join(f"{k} {v:.3f} ({v / plain:.1f}x plain)" for k, v in t.items()), flush=True)
    var = variance(x, [xs[128 * i: 128 * (i + 1)] for i in range(1, 9)], state, args.draws)
    for name, v in var.items():
        if name == "exact":
            continue
        eff = f", x cost {v['grad_rel_mse'] * t[name]:.3g}" if name in t else ""
        print(f"variance: {name}: rel std of penalty {v['rel_std_penalty'] or 0:.3f}, "
              f"grad rel MSE {v['grad_rel_mse']:.3f}{eff}", flush=True)
    out = {"machine": machine(), "settings": describe(s), "costs_s": t, "variance": var}
    results = [
        Result("estimators: exact torch.func step / exact on training graph", t["exact (torch.func, c=1)"]
               / t["exact (training graph, c=1)"], None, detail="> 1 means the graph variant is faster"),
        Result("estimators: subset m=16 step / plain", t["exact subset m=16"] / plain, None),
        Result("estimators: hutchinson k=1 step / plain", t["hutchinson k=1"] / plain, 2.0, "<="),
    ]
    if args.train_seconds > 0:
        train, test_split = load_split("train"), load_split("test")
        state0 = make(None).state_dict()
        out["training"] = {}
        for name in TRAINED:
            t0 = time.perf_counter()
            model, steps = train_for(VARIANTS[name], args.train_seconds, state0)
            ev = evaluate(model, train, test_split)
            out["training"][name] = {"steps": steps, "wall_s": time.perf_counter() - t0, **ev}
            print(f"training {name}: {steps} steps in {args.train_seconds:g} CPU s: " +
                  ", ".join(f"{k} {v:.4g}" for k, v in ev.items()), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    report(results)
    return results


if __name__ == "__main__":
    main()

"""Target 3, Hutchinson (k=1) contractive step vs a plain step; its variance; training vs exact.

* Step time: ``AutoEncoder._shared_step`` + backward + Adam on the U-Net (no skips), d=32,
  B=128, with no regularizer vs ``contractive`` in ``hutchinson`` mode (1 probe).
* Variance: on one batch at the initial weights, the relative standard deviation of the
  one-probe estimate of the batch penalty (mean over B samples) and of one sample's
  penalty, over ``--draws`` probe draws, against the exact value.
* Training: two identical models (same init, same batches) trained ``--steps`` steps of
  ``--train-batch`` images with
  exact and with Hutchinson penalties (λ = ``--weight``); test PSNR on 1000 test images and
  the accuracy of a logistic regression on the latent codes (2000 train / 1000 test codes).

    python benchmarks/bench_hutchinson.py [--device cuda] [--steps 40]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Result, Settings, add_arguments, describe, report, settings, time_interleaved  # noqa: E402

from regae import AutoEncoder, MNISTDataModule, load_split  # noqa: E402
from regae.regularizers.contractive import frobenius_exact, frobenius_hutchinson  # noqa: E402


def make_model(device: torch.device, mode: str | None, weight: float = 1e-4, arch: str = "unet") -> AutoEncoder:
    torch.manual_seed(0)
    regs = [] if mode is None else [{"name": "contractive", "weight": weight, "mode": mode}]
    widths = [256] if arch == "mlp" else None
    return AutoEncoder(arch=arch, latent_dim=32, widths=widths, regularizers=regs).to(device)


def stepper(model: AutoEncoder, seed: int = 0):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator(device=model.device).manual_seed(seed)

    def step(x: torch.Tensor) -> None:
        # AutoEncoder._shared_step draws its Hutchinson probes from a (seed, global_step)
        # generator; outside a Trainer the step is always 0, so give each step fresh probes.
        model.step_generator = lambda: gen
        loss, _, _ = model._shared_step((x, None), "train")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def variance(x: torch.Tensor, draws: int) -> tuple[float, float, float]:
    """(exact batch mean, rel. std of the 1-probe batch mean, rel. std of one sample's estimate)."""
    model = make_model(x.device, None)
    enc = model.net.encoder
    exact = frobenius_exact(enc, x).detach()  # (B,)
    g = torch.Generator(device=x.device).manual_seed(1)
    xr = x.detach().requires_grad_(True)
    h = enc(xr)
    est = torch.stack([frobenius_hutchinson(h, xr, 1, g).detach() for _ in range(draws)])  # (draws, B)
    batch = est.mean(1)
    return exact.mean().item(), (batch.std() / exact.mean()).item(), (est[:, 0].std() / exact[0]).item()


@torch.no_grad()
def evaluate(model: AutoEncoder, test_x: torch.Tensor, codes_x: torch.Tensor,
             codes_y: torch.Tensor) -> tuple[float, float, float]:
    from sklearn.linear_model import LogisticRegression

    model.eval()
    x_hat = torch.cat([model(c).x_hat for c in test_x.split(250)])
    mse = (x_hat - test_x).pow(2).mean().item()
    psnr = 10 * torch.log10(torch.tensor(1.0 / mse)).item()
    h = torch.cat([model.encode(c) for c in codes_x.split(250)]).cpu().numpy()
    y = codes_y.cpu().numpy()
    clf = LogisticRegression(max_iter=1000).fit(h[:2000], y[:2000])
    with torch.enable_grad():
        jac = frobenius_exact(model.net.encoder, test_x[:200]).mean().item()
    model.train()
    return psnr, float(clf.score(h[2000:], y[2000:])), jac


def train_compare(s: Settings, steps: int, weight: float, batch: int) -> dict[str, tuple[float, float, float]]:
    dev = s.device
    dm = MNISTDataModule(batch_size=batch, val_size=0, limit_train=steps * batch)
    dm.setup("fit")
    train = [(x.to(dev), y) for x, y in dm.train_dataloader()][:steps]
    test = load_split("test")
    test_x = test.images[:1000].unsqueeze(1).float().div(255).to(dev)
    tr = load_split("train")
    codes_x = tr.images[-2000:].unsqueeze(1).float().div(255)
    codes_x = torch.cat([codes_x, test.images[1000:2000].unsqueeze(1).float().div(255)]).to(dev)
    codes_y = torch.cat([tr.labels[-2000:], test.labels[1000:2000]])
    out = {}
    for mode in (None, "exact", "hutchinson"):
        model = make_model(dev, mode, weight, arch="mlp")
        step = stepper(model)
        for x, _ in train:
            step(x)
        out[mode] = evaluate(model, test_x, codes_x, codes_y)
    return out


def run(s: Settings, batch: int, draws: int, steps: int, weight: float, train_batch: int) -> list[Result]:
    dev = s.device
    x = torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(0)).to(dev)
    plain, hutch = stepper(make_model(dev, None)), stepper(make_model(dev, "hutchinson"))
    t = time_interleaved({"plain": lambda: plain(x), "hutchinson": lambda: hutch(x)}, s)
    exact, rel_batch, rel_one = variance(x, draws)
    comp = train_compare(s, steps, weight, train_batch)
    (pe, ae, je), (ph, ah, jh), (p0, a0, j0) = comp["exact"], comp["hutchinson"], comp[None]
    return [
        Result("hutchinson: k=1 step / plain step", t["hutchinson"] / t["plain"], 2.0, "<=",
               f"plain {t['plain']:.3f}s, hutchinson {t['hutchinson']:.3f}s; B={batch}, d=32; {describe(s)}"),
        Result("hutchinson: rel. std of the k=1 batch penalty", rel_batch, None,
               detail=f"exact {exact:.3e}; one sample's estimate: rel. std {rel_one:.2f}; {draws} draws"),
        Result("hutchinson: test PSNR exact - hutchinson (dB)", pe - ph, None,
               detail=f"exact {pe:.2f} dB, hutchinson {ph:.2f} dB, no penalty {p0:.2f} dB; MLP 784-256-32, "
                      f"{steps} steps of {train_batch}, λ={weight:g}"),
        Result("hutchinson: embedding accuracy exact - hutchinson", ae - ah, None,
               detail=f"logistic regression on codes: exact {ae:.3f}, hutchinson {ah:.3f}, no penalty {a0:.3f}"),
        Result("hutchinson: test ‖∂h/∂x‖²_F hutchinson-trained / exact-trained", jh / je, None,
               detail=f"exact-trained {je:.3g}, hutchinson-trained {jh:.3g}, no penalty {j0:.3g}"),
    ]


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--draws", type=int, default=200, help="probe draws for the variance")
    parser.add_argument("--steps", type=int, default=300, help="training steps per model in the comparison")
    parser.add_argument("--train-batch", type=int, default=128, help="batch size in the training comparison")
    parser.add_argument("--weight", type=float, default=0.1, help="contractive λ in the training comparison")
    args = parser.parse_args(argv)
    s = settings(args)
    if s.device.type == "cuda" and not torch.cuda.is_available():
        results = [Result("hutchinson: k=1 step / plain step", None, skipped="no CUDA")]
    elif s.quick:
        results = run(s, 32, 50, 30, args.weight, 64)
    else:
        results = run(s, args.batch, args.draws, args.steps, args.weight, args.train_batch)
    report(results)
    return results


if __name__ == "__main__":
    main()

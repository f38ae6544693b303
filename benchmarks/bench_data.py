"""Target 1, data path: regae's in-memory loader vs torchvision MNIST + ToTensor + DataLoader.

Both variants train the same MLP autoencoder 784-512-256-128-30 (latent 30, no latent
activation, MSE, Adam 1e-3, batch 256) for ``--batches`` batches (default 100 of the 235
in an epoch; ``--batches 0`` = one full epoch) per timed round; only the data source
differs. The classic loop is the textbook one: ``datasets.MNIST(transform=ToTensor())``
read from the raw IDX files (decompressed from the package into a temporary root, so
nothing is downloaded) and ``DataLoader(batch_size=256, shuffle=True)``.

The ratio is bounded by the step itself: (step + classic load) / (step + regae load) can
not exceed 1 + classic load / step, which the script prints next to the ratio.

    python benchmarks/bench_data.py [--device cuda] [--batches 100]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Result, Settings, add_arguments, describe, report, settings, time_interleaved  # noqa: E402

import regae  # noqa: E402
from regae.data.mnist import MNIST_DIR  # noqa: E402

BATCH = 256


def torchvision_root(tmp: Path) -> Path:
    """<tmp>/MNIST/raw/ with the four shipped files decompressed (torchvision's layout)."""
    raw = tmp / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for gz in MNIST_DIR.glob("*.gz"):
        with gzip.open(gz) as src, open(raw / gz.name[:-3], "wb") as dst:
            shutil.copyfileobj(src, dst)
    return tmp


def endless(loader: Iterable) -> Iterator:
    while True:
        yield from loader


def make_trainer(device: torch.device):
    torch.manual_seed(0)
    net = regae.build_net("mlp", widths=[512, 256, 128], latent_dim=30, decoder_widths=[128, 256],
                          latent_activation="none").to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step(x: torch.Tensor) -> None:
        out = net(x)
        loss = F.mse_loss(out.x_hat, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def run(s: Settings, batches: int) -> list[Result]:
    from torchvision import datasets, transforms

    dev = s.device
    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(Path(tmp))
        classic_ds = datasets.MNIST(str(root), train=True, download=False, transform=transforms.ToTensor())
        classic = torch.utils.data.DataLoader(classic_ds, batch_size=BATCH, shuffle=True,
                                              pin_memory=dev.type == "cuda")
        dm = regae.MNISTDataModule(batch_size=BATCH, val_size=0)
        dm.setup("fit")
        if dev.type == "cuda":  # what the data module does under a GPU trainer (on_device=True)
            dm.train = tuple(t.to(dev) for t in dm.train)
        ours = dm.train_dataloader()
        n = len(ours) if batches <= 0 else batches
        step_classic, step_ours = make_trainer(dev), make_trainer(dev)
        it_classic, it_ours = endless(classic), endless(ours)

        def train_classic() -> None:
            for _ in range(n):
                x, _ = next(it_classic)
                step_classic(x.to(dev, non_blocking=True))

        def train_ours() -> None:
            for _ in range(n):
                x, _ = next(it_ours)
                step_ours(x)

        def load_classic() -> None:
            for _ in range(n):
                next(it_classic)

        def load_ours() -> None:
            for _ in range(n):
                next(it_ours)

        t = time_interleaved({"classic": train_classic, "regae": train_ours,
                              "classic load": load_classic, "regae load": load_ours}, s)
    step = max(t["regae"] - t["regae load"], 1e-9)
    bound = (step + t["classic load"]) / (step + t["regae load"])
    per = 1e3 / n
    detail = (f"{n} batches of {BATCH}: classic {t['classic'] * per:.1f} ms/batch, regae "
              f"{t['regae'] * per:.1f} ms/batch (step {step * per:.1f} + load {t['regae load'] * per:.2f}; "
              f"classic load {t['classic load'] * per:.1f}); bound 1+load/step = {bound:.2f}; {describe(s)}")
    return [
        Result("data: training throughput regae / classic DataLoader", t["classic"] / t["regae"], 2.5, ">=", detail),
        Result("data: loading alone regae / classic", t["classic load"] / max(t["regae load"], 1e-9), None),
    ]


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--batches", type=int, default=100, help="batches per timed round; 0 = one epoch")
    args = parser.parse_args(argv)
    s = settings(args)
    if s.device.type == "cuda" and not torch.cuda.is_available():
        results = [Result("data: training throughput regae / classic DataLoader", None, skipped="no CUDA")]
    else:
        results = run(s, 20 if s.quick else args.batches)
    report(results)
    return results


if __name__ == "__main__":
    main()

"""Target 1, data path: regae's in-memory loader vs torchvision Dataset + ToTensor + DataLoader.

Two rows, each training one MLP autoencoder (hidden 512-256-128, latent 30, no latent
activation, MSE, Adam 1e-3, batch 256) for ``--batches`` batches per timed round (default
100; ``--batches 0`` = one full epoch); only the data source differs:

* **MNIST** (784 inputs): ``datasets.MNIST(transform=ToTensor())`` read from the raw IDX files
  (decompressed from the package into a temporary root, so nothing is downloaded) vs
  ``MNISTDataModule``.
* **RGB 32x32** (3072 inputs): a generated folder of ``--rgb-images`` PNGs (default 5,120,
  3 class subfolders, smooth colour blobs) read by ``datasets.ImageFolder(transform=ToTensor())``
  vs ``ImageDataModule(dataset="folder:...")``. regae decodes the folder once, into memory;
  that one-off cost is printed next to the ratio (it is paid once per run, torchvision pays
  the decoding every epoch).

The classic loaders are ``DataLoader(batch_size=256, shuffle=True, num_workers=0)`` so their
decoding is counted in the same process. The ratio is bounded by the step itself:
(step + classic load) / (step + regae load) can not exceed 1 + classic load / step, which
the script prints next to the ratio.

    python benchmarks/bench_data.py [--device cuda] [--batches 100] [--only mnist|rgb]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Result, Settings, add_arguments, describe, report, settings, time_interleaved  # noqa: E402

import regae  # noqa: E402
from regae.data import ImageDataModule  # noqa: E402
from regae.data.mnist import MNIST_DIR  # noqa: E402

BATCH = 256
RGB_SHAPE = (3, 32, 32)


def torchvision_root(tmp: Path) -> Path:
    """<tmp>/MNIST/raw/ with the four shipped files decompressed (torchvision's layout)."""
    raw = tmp / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for gz in MNIST_DIR.glob("*.gz"):
        with gzip.open(gz) as src, open(raw / gz.name[:-3], "wb") as dst:
            shutil.copyfileobj(src, dst)
    return tmp


def rgb_folder(root: Path, n: int, size: int = 32, classes: int = 3) -> Path:
    """root/class{k}/{i}.png: n RGB size x size images, a soft disc of the class's colour on noise."""
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        k = i % classes
        cy, cx, r = rng.uniform(0.3, 0.7) * size, rng.uniform(0.3, 0.7) * size, rng.uniform(0.15, 0.3) * size
        disc = np.clip(1.5 - np.hypot(yy - cy, xx - cx) / r, 0, 1)[..., None]
        img = rng.uniform(0, 0.2, (size, size, 3)) + disc * np.eye(3)[k]
        folder = root / f"class{k}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(255 * img, 0, 255).astype(np.uint8), "RGB").save(folder / f"{i:05d}.png")
    return root


def endless(loader: Iterable) -> Iterator:
    while True:
        yield from loader


def make_trainer(device: torch.device, input_shape: tuple[int, int, int]) -> Callable[[torch.Tensor], None]:
    torch.manual_seed(0)
    net = regae.build_net("mlp", widths=[512, 256, 128], latent_dim=30, decoder_widths=[128, 256],
                          latent_activation="none", input_shape=input_shape).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step(x: torch.Tensor) -> None:
        out = net(x)
        loss = F.mse_loss(out.x_hat, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def compare(name: str, classic: Iterable, dm: ImageDataModule, s: Settings, batches: int,
            extra: str = "") -> list[Result]:
    """Train the same MLP from ``classic`` and from ``dm``'s loader, interleaved; two Results."""
    dev = s.device
    dm.setup("fit")
    if dev.type == "cuda":  # what the data module does under a GPU trainer (on_device=True)
        dm.train = tuple(t.to(dev) for t in dm.train)
    ours = dm.train_dataloader()
    n = len(ours) if batches <= 0 else batches
    step_classic, step_ours = make_trainer(dev, dm.input_shape), make_trainer(dev, dm.input_shape)
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
    c, h, w = dm.input_shape
    detail = (f"{n} batches of {BATCH} {c}x{h}x{w}: classic {t['classic'] * per:.1f} ms/batch, regae "
              f"{t['regae'] * per:.1f} ms/batch (step {step * per:.1f} + load {t['regae load'] * per:.2f}; "
              f"classic load {t['classic load'] * per:.1f}); bound 1+load/step = {bound:.2f}{extra}; {describe(s)}")
    return [
        Result(f"data ({name}): training throughput regae / classic DataLoader", t["classic"] / t["regae"], 2.5, ">=",
               detail),
        Result(f"data ({name}): loading alone regae / classic", t["classic load"] / max(t["regae load"], 1e-9), None),
    ]


def run_mnist(s: Settings, batches: int) -> list[Result]:
    from torchvision import datasets, transforms

    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(Path(tmp))
        classic_ds = datasets.MNIST(str(root), train=True, download=False, transform=transforms.ToTensor())
        classic = torch.utils.data.DataLoader(classic_ds, batch_size=BATCH, shuffle=True,
                                              pin_memory=s.device.type == "cuda")
        return compare("MNIST", classic, regae.MNISTDataModule(batch_size=BATCH, val_size=0), s, batches)


def run_rgb(s: Settings, batches: int, n_images: int) -> list[Result]:
    from torchvision import datasets, transforms

    with tempfile.TemporaryDirectory() as tmp:
        root = rgb_folder(Path(tmp) / "rgb", n_images)
        classic_ds = datasets.ImageFolder(str(root), transform=transforms.ToTensor())
        classic = torch.utils.data.DataLoader(classic_ds, batch_size=BATCH, shuffle=True,
                                              pin_memory=s.device.type == "cuda")
        t0, c0 = time.perf_counter(), time.process_time()
        dm = ImageDataModule(dataset=f"folder:{root}", batch_size=BATCH, val_size=0)
        once = (f"; regae reads the {n_images} files once: {time.process_time() - c0:.2f} s CPU "
                f"({time.perf_counter() - t0:.2f} s wall), = {(time.process_time() - c0) * 1e3 / (n_images / BATCH):.1f}"
                " ms per batch of files, paid once per run")
        assert dm.input_shape == RGB_SHAPE and len(classic_ds) == n_images
        return compare("RGB 32x32 folder", classic, dm, s, batches, once)


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--batches", type=int, default=100, help="batches per timed round; 0 = one epoch")
    parser.add_argument("--rgb-images", type=int, default=5120, help="images in the generated RGB folder")
    parser.add_argument("--only", choices=["mnist", "rgb"], default=None, help="run one row only")
    args = parser.parse_args(argv)
    s = settings(args)
    batches = 20 if s.quick else args.batches
    results: list[Result] = []
    if s.device.type == "cuda" and not torch.cuda.is_available():
        results = [Result("data: training throughput regae / classic DataLoader", None, skipped="no CUDA")]
    else:
        if args.only in (None, "mnist"):
            results += run_mnist(s, batches)
        if args.only in (None, "rgb"):
            results += run_rgb(s, batches, 1024 if s.quick else args.rgb_images)
    report(results)
    return results


if __name__ == "__main__":
    main()

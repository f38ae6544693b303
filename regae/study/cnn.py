"""Experiment 9: a small CNN digit classifier fed with AE outputs.

The CNN (conv 3x3 16 - pool - conv 3x3 32 - pool - dense 128 - dense 10, ReLU, Adam 1e-3,
cross-entropy) is trained on clean MNIST. Its test accuracy on AE reconstructions measures
how much class information survives the AE; on noisy vs denoised images, how much a
denoising AE restores.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from regae.analysis.section import Section
from regae.study import figures
from regae.study.denoising import noisy_test
from regae.study.runner import StudyContext, reconstruct
from regae.study.specs import DEEP_AE, SHALLOW_BCE, denoiser
from regae.study.writer import figure, table

KEY = "study_cnn"
NOISE = "gaussian:0.5"


class DigitCNN(nn.Module):
    """x (B, 1, 28, 28) -> logits (B, 10)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 16, 14, 14)
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, 7, 7)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def train_classifier(x: Tensor, y: Tensor, epochs: int, batch_size: int = 128, seed: int = 0,
                     device: str = "cpu", lr: float = 1e-3) -> DigitCNN:
    """Plain minibatch Adam on (x (N,1,28,28), y (N,)); order fixed by ``seed``."""
    torch.manual_seed(seed)
    model = DigitCNN().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    x, y = x.to(device), y.to(device)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen).to(device)
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def predict(model: DigitCNN, x: Tensor, batch: int = 1000) -> Tensor:
    """Class probabilities (N, 10) on the CPU."""
    device = next(model.parameters()).device
    return torch.cat([F.softmax(model(x[i : i + batch].to(device)), 1).cpu() for i in range(0, len(x), batch)])


def accuracy(model: DigitCNN, x: Tensor, y: Tensor) -> float:
    return float((predict(model, x).argmax(1) == y).float().mean())


def classifier(ctx: StudyContext) -> DigitCNN:
    """The study's CNN, trained once per run on the training images of the budget (half its epochs)."""
    def build() -> DigitCNN:
        x, y = ctx.train_set()
        epochs = ctx.budget.scaled(epochs=0.5).epochs
        ctx.log(f"  training CNN classifier: {len(x):,} images x {epochs} epochs")
        start = time.perf_counter()
        model = train_classifier(x, y, epochs, seed=ctx.seed, device=ctx.device)
        ctx.log(f"    done in {time.perf_counter() - start:.1f} s")
        return model
    return ctx.memo("cnn", build)


def run(ctx: StudyContext) -> list[Section]:
    x_test, y_test = ctx.test_set()
    cnn = classifier(ctx)
    deep = ctx.fit("deep MLP AE 784-512-256-128-30", **DEEP_AE).model
    shallow = ctx.fit("784-32-784 sigmoid, BCE", **SHALLOW_BCE).model
    plain = ctx.fit("standard AE 784-256-64-256-784", **denoiser()).model
    dae = ctx.fit(f"denoising AE, {NOISE}", **denoiser(NOISE)).model
    x_noisy = noisy_test(ctx, NOISE)
    inputs = {
        "raw test images": x_test,
        "deep AE-30 reconstructions": reconstruct(deep, x_test),
        "784-32-784 BCE reconstructions": reconstruct(shallow, x_test),
        f"noisy ({NOISE})": x_noisy,
        "noisy -> standard AE": reconstruct(plain, x_noisy),
        "noisy -> denoising AE": reconstruct(dae, x_noisy),
    }
    acc = {name: accuracy(cnn, x, y_test) for name, x in inputs.items()}
    metrics = {"budget": ctx.budget.describe(), "cnn_epochs": ctx.budget.scaled(epochs=0.5).epochs, "accuracy": acc}
    bar_path, bar_rel = ctx.figure_path(KEY, "accuracy.png")
    figures.bars(bar_path, {k: 100 * v for k, v in acc.items()}, "CNN test accuracy (%)",
                 "A clean-trained CNN on raw, reconstructed, noisy and denoised images", annotate="{:.1f}%")
    grid_path, grid_rel = ctx.figure_path(KEY, "inputs.png")
    figures.image_rows(grid_path, [(k.split(" (")[0][:22], v[:10]) for k, v in inputs.items()],
                       title="What the CNN is given (first 10 test images)")
    md = "\n\n".join([
        "A small CNN (conv 16 - pool - conv 32 - pool - dense 128 - dense 10) trained on clean MNIST training "
        f"images ({metrics['cnn_epochs']} epochs on the budget's training images) classifies the test images as they are, "
        "after an AE, and after noise with or without a denoising AE.",
        f"AE budget: {ctx.budget.describe()}.",
        table(["CNN input", "test accuracy"], [[k, f"{100 * v:.1f} %"] for k, v in acc.items()]),
        f"Measured: the denoising AE takes the CNN from {100 * acc[f'noisy ({NOISE})']:.1f} % on noisy images to "
        f"{100 * acc['noisy -> denoising AE']:.1f} % (standard AE: {100 * acc['noisy -> standard AE']:.1f} %); "
        f"the deep AE's reconstructions keep {100 * acc['deep AE-30 reconstructions']:.1f} % against "
        f"{100 * acc['raw test images']:.1f} % on raw images.",
        figure(bar_rel, "CNN accuracy by input"),
        figure(grid_rel, "CNN inputs"),
    ])
    return [Section(KEY, "A CNN classifier on AE outputs", md, metrics, [bar_rel, grid_rel])]

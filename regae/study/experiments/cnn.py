"""Experiment 9: a small CNN digit classifier fed with AE outputs.

The CNN (conv 3x3 16 - pool - conv 3x3 32 - pool - dense 128 - dense 10, ReLU, Adam with the
study's cosine schedule, cross-entropy) is trained on clean MNIST (recipe ``cnn``). Its test accuracy on AE reconstructions measures
how much class information survives the AE; on noisy vs denoised images, how much a
denoising AE restores.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from regae.model.inference import reconstruct
from regae.model.schedule import lr_factor
from regae.reports import stats
from regae.reports.section import Section
from regae.reports.tables import image, number_table
from regae.study import figures
from regae.study.compare import N_BOOT, accuracy_text, compare_accuracy, p_text, short
from regae.study.experiments.denoising import noisy_test
from regae.study.runner import StudyContext
from regae.study.specs import DEEP_AE, DEEP_NAME, SHALLOW_BCE, denoiser

KEY = "study_cnn"
NOISE = "gaussian:0.5"
RAW, DEEP, SHALLOW = "raw test images", "deep AE-30 reconstructions", "784-32-784 BCE reconstructions"
NOISY, NOISY_PLAIN, NOISY_DAE = f"noisy ({NOISE})", "noisy -> standard AE", "noisy -> denoising AE"
PAIRS = ((NOISY_DAE, NOISY), (NOISY_DAE, NOISY_PLAIN), (NOISY_PLAIN, NOISY), (RAW, DEEP), (DEEP, SHALLOW))


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


@dataclass
class TrainedCNN:
    model: DigitCNN
    train_loss: list[float]  # mean cross-entropy of each epoch
    val_accuracy: list[float]  # held-out accuracy after each epoch
    seconds: float
    cpu_seconds: float
    load: float


def train_classifier(x: Tensor, y: Tensor, epochs: int, batch_size: int = 128, seed: int = 0,
                     device: str = "cpu", lr: float = 1e-3, warmup: float = 0.02,
                     val: tuple[Tensor, Tensor] | None = None) -> TrainedCNN:
    """Minibatch Adam on (x (N,1,28,28), y (N,)) with the study's cosine schedule (per step,
    :func:`regae.model.schedule.lr_factor`); order fixed by ``seed``; ``val`` scored after every epoch."""
    load0, wall0, cpu0 = os.getloadavg()[0], time.perf_counter(), time.process_time()
    torch.manual_seed(seed)
    model = DigitCNN().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    total = epochs * math.ceil(len(x) / batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: lr_factor(t, total, "cosine", warmup))
    gen = torch.Generator().manual_seed(seed)
    x, y = x.to(device), y.to(device)
    losses, accs = [], []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen).to(device)
        total_loss, batches = 0.0, 0
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total_loss, batches = total_loss + float(loss.detach()), batches + 1
        losses.append(total_loss / batches)
        model.eval()
        if val is not None:
            accs.append(accuracy(model, *val))
    return TrainedCNN(model.eval(), losses, accs, time.perf_counter() - wall0, time.process_time() - cpu0,
                      (load0 + os.getloadavg()[0]) / 2)


@torch.no_grad()
def predict(model: DigitCNN, x: Tensor, batch: int = 1000) -> Tensor:
    """Class probabilities (N, 10) on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([F.softmax(model(x[i : i + batch].to(device)), 1).cpu() for i in range(0, len(x), batch)])


def accuracy(model: DigitCNN, x: Tensor, y: Tensor) -> float:
    return float((predict(model, x).argmax(1) == y.cpu()).float().mean())


def classifier(ctx: StudyContext) -> DigitCNN:
    """The study's CNN, trained once per run (recipe ``cnn``), with its curve in :func:`trained_classifier`."""
    return trained_classifier(ctx).model


def trained_classifier(ctx: StudyContext) -> TrainedCNN:
    def build() -> TrainedCNN:
        budget = ctx.budget("cnn")
        x, y = ctx.train_set("cnn")
        ctx.log(f"  training CNN classifier: {budget.describe()}")
        trained = train_classifier(x, y, budget.epochs, budget.batch_size, seed=ctx.seed, device=ctx.device,
                                   lr=budget.lr, warmup=budget.warmup, val=ctx.val_set())
        ctx.log(f"    done in {trained.seconds:.0f} s wall, {trained.cpu_seconds:.0f} s CPU (load {trained.load:.1f}); "
                f"val accuracy {trained.val_accuracy[-1]:.4f}")
        return trained
    return ctx.memo("cnn", build)


def run(ctx: StudyContext) -> list[Section]:
    x_test, y_test = ctx.test_set()
    cnn_run = trained_classifier(ctx)
    cnn = cnn_run.model
    deep = ctx.fit_seeds(DEEP_NAME, "deep", **DEEP_AE)
    shallow = ctx.fit_seeds("784-32-784 sigmoid, BCE", "shallow", **SHALLOW_BCE)
    plain = ctx.fit_seeds("standard AE 784-256-64-256-784", "denoiser", **denoiser())
    dae = ctx.fit_seeds(f"denoising AE, {NOISE}", "denoiser", **denoiser(NOISE))
    x_noisy = noisy_test(ctx, NOISE)
    inputs = {
        RAW: [x_test],
        DEEP: [reconstruct(r.model, x_test) for r in deep],
        SHALLOW: [reconstruct(r.model, x_test) for r in shallow],
        NOISY: [x_noisy],
        NOISY_PLAIN: [reconstruct(r.model, x_noisy) for r in plain],
        NOISY_DAE: [reconstruct(r.model, x_noisy) for r in dae],
    }
    correct = {name: [(predict(cnn, x).argmax(1) == y_test).numpy() for x in xs] for name, xs in inputs.items()}
    acc = {name: stats.accuracy_summary(c, n_boot=N_BOOT, seed=ctx.seed) for name, c in correct.items()}
    pairs = {f"{a} vs {b}": compare_accuracy(a, correct[a], b, correct[b], seed=ctx.seed) for a, b in PAIRS}
    budget = ctx.budget("cnn")
    metrics = {"cnn": {"budget": budget.describe(), "train_loss_per_epoch": cnn_run.train_loss,
                       "val_accuracy_per_epoch": cnn_run.val_accuracy, "train_seconds": cnn_run.seconds,
                       "train_cpu_seconds": cnn_run.cpu_seconds, "load": cnn_run.load},
               "accuracy": acc, "pairs": pairs, "seeds": {name: len(xs) for name, xs in inputs.items()}}
    bar_path, bar_rel = ctx.figure_path(KEY, "accuracy.png")
    figures.bars(bar_path, {k: 100 * v["accuracy"] for k, v in acc.items()}, "CNN test accuracy (%)",
                 "A clean-trained CNN on raw, reconstructed, noisy and denoised images", annotate="{:.1f}%")
    grid_path, grid_rel = ctx.figure_path(KEY, "inputs.png")
    figures.image_rows(grid_path, [(k.split(" (")[0][:22], v[0][:10]) for k, v in inputs.items()],
                       title="What the CNN is given (first 10 test images, first seed)")
    curve_path, curve_rel = ctx.figure_path(KEY, "cnn-learning-curve.png")
    epochs = list(range(1, len(cnn_run.val_accuracy) + 1))
    figures.curves(curve_path, {"validation error (%)": (epochs, [100 * (1 - a) for a in cnn_run.val_accuracy]),
                                "training cross-entropy": (epochs, cnn_run.train_loss)},
                   "epoch", "value (log scale)", "CNN classifier: learning curve", logy=True, markers=True,
                   integer_x=True)
    md = "\n\n".join([
        "A small CNN (conv 16 - pool - conv 32 - pool - dense 128 - dense 10) trained on clean MNIST training images "
        "classifies the test images as they are, after an AE, and after noise with or without a denoising AE. "
        "Accuracies carry 95 % intervals (Wilson for one seed; over several AE seeds, the mean ± std over seeds and "
        "a bootstrap interval); pairs of inputs are compared on the same test images (exact McNemar for one seed "
        "each, else the paired bootstrap of the seed-averaged per-image accuracy).",
        f"CNN budget: {budget.describe()}; {len(cnn_run.val_accuracy)} epochs, final validation accuracy "
        f"{100 * cnn_run.val_accuracy[-1]:.2f} % on {ctx.level.val_images:,} held-out training images; "
        f"{cnn_run.seconds:.0f} s wall, {cnn_run.cpu_seconds:.0f} s CPU (load {cnn_run.load:.1f}). "
        "The AEs are those of the PCA, code-size and denoising sections (same budgets and seeds).",
        number_table(["CNN input", "AE seeds", "test accuracy [95 % CI]"],
              [[k, len(inputs[k]), accuracy_text(v)] for k, v in acc.items()]),
        number_table(["comparison", "difference (points) [95 % CI]", "test", "p", "verdict"],
              [[k, f"{v['diff_points']:+.1f} [{v['ci_low_points']:+.1f}, {v['ci_high_points']:+.1f}]", v["test"],
                p_text(v), short(v)] for k, v in pairs.items()]),
        f"Measured: the denoising AE takes the CNN from {100 * acc[NOISY]['accuracy']:.1f} % on noisy images to "
        f"{100 * acc[NOISY_DAE]['accuracy']:.1f} % (standard AE: {100 * acc[NOISY_PLAIN]['accuracy']:.1f} %); "
        f"the deep AE's reconstructions keep {100 * acc[DEEP]['accuracy']:.1f} % against "
        f"{100 * acc[RAW]['accuracy']:.1f} % on raw images.",
        image(bar_rel, "CNN accuracy by input"),
        image(curve_rel, "CNN learning curve"),
        image(grid_rel, "CNN inputs"),
    ])
    return [Section(KEY, "A CNN classifier on AE outputs", md, metrics, [bar_rel, curve_rel, grid_rel])]

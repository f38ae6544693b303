"""Experiment name -> (module, one-line description), in report order. Modules expose ``run(ctx)``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the registry is read by `regae study --help`, which must not load torch
    from regae.reports.section import Section
    from regae.study.runner import StudyContext

EXPERIMENTS: dict[str, tuple[str, str]] = {
    "pca": ("regae.study.experiments.pca_vs_ae", "PCA-30 vs the deep AE 784-1000-500-250-30 (Hinton 2006): PSNR, paired test"),
    "undercomplete": ("regae.study.experiments.undercomplete", "784-h-784 for h = 64, 128, 256 and 784-32-784 BCE: error vs size"),
    "nondigits": ("regae.study.experiments.nondigits", "Fashion-MNIST and noise images through a digit AE: error vs MNIST"),
    "filters": ("regae.study.experiments.filters", "encoder filters, decoder weights, hidden activation histograms"),
    "sparse": ("regae.study.experiments.sparse", "overcomplete 1156-unit AE with L1 / KL sparsity vs none"),
    "denoising": ("regae.study.experiments.denoising", "denoising AE vs standard AE across gaussian and salt-and-pepper noise"),
    "manifold": ("regae.study.experiments.manifold", "784-64-8-64-784 AE: gaussian noise in the 8-d code, decoded"),
    "conv": ("regae.study.experiments.conv_decoders", "conv AE decoders: unpooling vs transposed conv vs both"),
    "cnn": ("regae.study.experiments.cnn", "a CNN digit classifier fed raw, reconstructed, noisy and denoised images"),
    "sparsity-frontier": ("regae.study.experiments.sparsity_frontier",
                          "784-1000-784 with KL, L1, decoder-norm L1, TopK, BatchTopK: L0 vs FVU and accuracy"),
    "vae": ("regae.study.experiments.vae", "variational AE: ELBO terms, reconstructions, samples from the prior"),
}


def experiment(name: str) -> Callable[[StudyContext], list[Section]]:
    return importlib.import_module(EXPERIMENTS[name][0]).run


def section_key(name: str) -> str:
    """The Section key (and metrics.json entry) of experiment ``name``: its module's ``KEY``."""
    return f"study_{name}"


def section_order() -> list[str]:
    """Section keys in report order."""
    return [section_key(n) for n in EXPERIMENTS]

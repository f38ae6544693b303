"""Experiment 6: a denoising AE against a standard AE on corrupted test images.

Each denoising AE is trained on inputs corrupted with one noise (``corrupt=kind:level``,
loss against the clean image); the standard AE (same net) on clean inputs. Both then get
noisy test images and are scored by PSNR(reconstruction, clean image). The test noise is
drawn from its own seeded generator, the same for every model.
"""

from __future__ import annotations

import torch

from regae.analysis.section import Section
from regae.data.corrupt import Corruption
from regae.study import figures
from regae.study.runner import StudyContext, psnr, reconstruct
from regae.study.specs import denoiser
from regae.study.writer import figure, table

KEY = "study_denoising"
NOISES = ("gaussian:0.3", "gaussian:0.5", "gaussian:0.8", "gaussian:0.9", "salt_and_pepper:0.3")


def noisy_test(ctx: StudyContext, noise: str) -> torch.Tensor:
    """The test set corrupted by ``noise`` with a generator fixed by (seed, noise)."""
    x, _ = ctx.test_set()
    gen = torch.Generator().manual_seed(ctx.seed * 7919 + sum(map(ord, noise)))
    return Corruption.parse(noise)(x, gen)


def run(ctx: StudyContext) -> list[Section]:
    x_test, _ = ctx.test_set()
    plain = ctx.fit("standard AE 784-256-64-256-784", **denoiser()).model
    metrics = {"budget": ctx.budget.describe(), "levels": {}}
    rows, examples = [], []
    for noise in NOISES:
        dae = ctx.fit(f"denoising AE, {noise}", **denoiser(noise)).model
        x_noisy = noisy_test(ctx, noise)
        out_plain, out_dae = reconstruct(plain, x_noisy), reconstruct(dae, x_noisy)
        m = {"noisy_input_psnr": psnr(x_noisy, x_test), "standard_ae_psnr": psnr(out_plain, x_test),
             "denoising_ae_psnr": psnr(out_dae, x_test), "standard_ae_clean_input_psnr": psnr(reconstruct(plain, x_test), x_test)}
        m["gain_db"] = m["denoising_ae_psnr"] - m["standard_ae_psnr"]
        metrics["levels"][noise] = m
        rows.append([noise, m["noisy_input_psnr"], m["standard_ae_psnr"], m["denoising_ae_psnr"], m["gain_db"]])
        if noise in ("gaussian:0.5", "gaussian:0.9", "salt_and_pepper:0.3"):
            examples += [(f"noisy {noise}", x_noisy[:8]), ("standard AE", out_plain[:8]), ("denoising AE", out_dae[:8])]
    # one DAE (trained at σ = 0.5) across every level: does it generalise beyond its training noise?
    dae05 = ctx.fit("denoising AE, gaussian:0.5", **denoiser("gaussian:0.5")).model
    for noise in NOISES:
        metrics["levels"][noise]["dae_sigma0.5_psnr"] = psnr(reconstruct(dae05, noisy_test(ctx, noise)), x_test)
    grid_path, grid_rel = ctx.figure_path(KEY, "examples.png")
    figures.image_rows(grid_path, [("clean", x_test[:8])] + examples,
                       title="Noisy test inputs and what each AE makes of them")
    curve_path, curve_rel = ctx.figure_path(KEY, "psnr-vs-sigma.png")
    gauss = [n for n in NOISES if n.startswith("gaussian")]
    sig = [float(n.split(":")[1]) for n in gauss]
    figures.curves(curve_path, {
        "noisy input": (sig, [metrics["levels"][n]["noisy_input_psnr"] for n in gauss]),
        "standard AE": (sig, [metrics["levels"][n]["standard_ae_psnr"] for n in gauss]),
        "denoising AE (trained at that σ)": (sig, [metrics["levels"][n]["denoising_ae_psnr"] for n in gauss]),
        "denoising AE (trained at σ=0.5)": (sig, [metrics["levels"][n]["dae_sigma0.5_psnr"] for n in gauss]),
    }, "gaussian noise σ", "PSNR vs clean image (dB)", "Gaussian noise: PSNR against the clean test image", markers=True)
    wins = [n for n in NOISES if metrics["levels"][n]["gain_db"] > 0]
    md = "\n\n".join([
        "Net: 784-256-64-256-784 (ReLU, sigmoid output, MSE, Adam 1e-3). One denoising AE per noise "
        "(gaussian σ ∈ {0.3, 0.5, 0.8, 0.9}, clipped to [0, 1]; salt-and-pepper with p = 0.3), trained on "
        "corrupted inputs against the clean image, and one standard AE trained on clean images. All get the same "
        "noisy test images; PSNR is measured against the clean image.",
        f"Budget per model: {ctx.budget.describe()}.",
        table(["noise", "noisy input PSNR", "standard AE PSNR", "denoising AE PSNR", "gain (dB)"], rows),
        f"Measured: the denoising AE beats the standard AE at {len(wins)} of {len(NOISES)} noise settings"
        + (f" ({', '.join(wins)})." if wins else "."),
        figure(curve_rel, "PSNR vs gaussian sigma"),
        figure(grid_rel, "denoising examples"),
    ])
    return [Section(KEY, "Denoising AE vs standard AE", md, metrics, [grid_rel, curve_rel])]

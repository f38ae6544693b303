"""Experiment 6: a denoising AE against a standard AE on corrupted test images.

Each denoising AE is trained on inputs corrupted with one noise (``corrupt=kind:level``,
loss against the clean image); the standard AE (same net) on clean inputs. Both then get
noisy test images and are scored by PSNR(reconstruction, clean image). The test noise is
drawn from its own seeded generator, the same for every model.
"""

from __future__ import annotations

import numpy as np
import torch

from regae.data.corrupt import Corruption
from regae.model.inference import reconstruct
from regae.reports.section import Section
from regae.reports.tables import image, number_table
from regae.study import curves, figures
from regae.study.compare import compare_psnr, image_errors, p_text, pm, seeds_psnr
from regae.study.runner import StudyContext
from regae.study.specs import denoiser

KEY = "study_denoising"
NOISES = ("gaussian:0.3", "gaussian:0.5", "gaussian:0.8", "gaussian:0.9", "salt_and_pepper:0.3")
PLAIN = "standard AE 784-256-64-256-784"


def noisy_test(ctx: StudyContext, noise: str) -> torch.Tensor:
    """The test set corrupted by ``noise`` with a generator fixed by (seed, noise)."""
    x, _ = ctx.test_set()
    gen = torch.Generator().manual_seed(ctx.seed * 7919 + sum(map(ord, noise)))
    return Corruption.parse(noise)(x, gen)


def run(ctx: StudyContext) -> list[Section]:
    x_test, _ = ctx.test_set()
    plain = ctx.fit_seeds(PLAIN, "denoiser", **denoiser())
    groups = {PLAIN: plain}
    metrics = {"levels": {}}
    rows, examples = [], []

    def errors(runs, x_in) -> np.ndarray:  # (seeds, N) per-image error against the clean image
        return np.stack([image_errors(reconstruct(r.model, x_in), x_test) for r in runs])

    for noise in NOISES:
        dae = groups[f"denoising AE, {noise}"] = ctx.fit_seeds(f"denoising AE, {noise}", "denoiser", **denoiser(noise))
        x_noisy = noisy_test(ctx, noise)
        e_noisy, e_plain, e_dae = image_errors(x_noisy, x_test), errors(plain, x_noisy), errors(dae, x_noisy)
        m = {"noisy_input_psnr": seeds_psnr(e_noisy)["mean"], "standard_ae_psnr": seeds_psnr(e_plain),
             "denoising_ae_psnr": seeds_psnr(e_dae), "standard_ae_clean_input_psnr": seeds_psnr(errors(plain, x_test)),
             "dae_minus_standard_db": compare_psnr("denoising AE", e_dae, "standard AE", e_plain, seed=ctx.seed)}
        metrics["levels"][noise] = m
        d = m["dae_minus_standard_db"]
        rows.append([noise, f"{m['noisy_input_psnr']:.2f}", pm(m["standard_ae_psnr"]), pm(m["denoising_ae_psnr"]),
                     f"{d['estimate']:+.2f} [{d['ci_low']:+.2f}, {d['ci_high']:+.2f}]", p_text(d)])
        if noise in ("gaussian:0.5", "gaussian:0.9", "salt_and_pepper:0.3"):
            examples += [(f"noisy {noise}", x_noisy[:8]), ("standard AE", reconstruct(plain[0].model, x_noisy[:8])),
                         ("denoising AE", reconstruct(dae[0].model, x_noisy[:8]))]
    # one DAE (trained at σ = 0.5) across every level: does it generalise beyond its training noise?
    dae05 = groups["denoising AE, gaussian:0.5"]
    for noise in NOISES:
        metrics["levels"][noise]["dae_sigma0.5_psnr"] = seeds_psnr(errors(dae05, noisy_test(ctx, noise)))
    metrics["training"] = curves.records(groups)
    grid_path, grid_rel = ctx.figure_path(KEY, "examples.png")
    figures.image_rows(grid_path, [("clean", x_test[:8])] + examples,
                       title="Noisy test inputs and what each AE makes of them (first seed)")
    curve_path, curve_rel = ctx.figure_path(KEY, "psnr-vs-sigma.png")
    gauss = [n for n in NOISES if n.startswith("gaussian")]
    sig = [float(n.split(":")[1]) for n in gauss]
    lv = metrics["levels"]
    figures.curves(curve_path, {
        "noisy input": (sig, [lv[n]["noisy_input_psnr"] for n in gauss]),
        "standard AE": (sig, [lv[n]["standard_ae_psnr"]["mean"] for n in gauss]),
        "denoising AE (trained at that σ)": (sig, [lv[n]["denoising_ae_psnr"]["mean"] for n in gauss]),
        "denoising AE (trained at σ=0.5)": (sig, [lv[n]["dae_sigma0.5_psnr"]["mean"] for n in gauss]),
    }, "gaussian noise σ", "PSNR vs clean image (dB)", "Gaussian noise: PSNR against the clean test image", markers=True)
    learn_md, learn_rel = curves.section_block(ctx, KEY, groups, "Standard and denoising AEs")
    wins = [n for n in NOISES if lv[n]["dae_minus_standard_db"]["p"] < 0.05 and lv[n]["dae_minus_standard_db"]["estimate"] > 0]
    md = "\n\n".join([
        "Net: 784-256-64-256-784 (ReLU, sigmoid output, MSE). One denoising AE per noise (gaussian σ ∈ {0.3, 0.5, "
        "0.8, 0.9}, clipped to [0, 1]; salt-and-pepper with p = 0.3), trained on corrupted inputs against the clean "
        "image, and one standard AE trained on clean images. All get the same noisy test images; PSNR is measured "
        "against the clean image. The literature's direction (Vincent et al. 2008, 2010): trained to undo the "
        "corruption, the denoising AE restores noisy inputs better than an AE trained on clean ones.",
        ctx.budget_text("denoiser"),
        number_table(["noise", "noisy input PSNR", "standard AE PSNR", "denoising AE PSNR", "DAE − standard (dB) [95 % CI]",
               "p (paired bootstrap)"], rows),
        f"Measured: the denoising AE is significantly better than the standard AE at {len(wins)} of {len(NOISES)} "
        "noise settings. Per setting: " + "; ".join(f"{n}: {lv[n]['dae_minus_standard_db']['verdict']}" for n in NOISES)
        + ".",
        image(curve_rel, "PSNR vs gaussian sigma"),
        learn_md,
        image(grid_rel, "denoising examples"),
    ])
    return [Section(KEY, "Denoising AE vs standard AE", md, metrics, [curve_rel, learn_rel, grid_rel])]

"""Experiment 5: an overcomplete 784-1156-784 AE, with and without sparsity.

Without a penalty an overcomplete code can copy its input; an L1 activity penalty
λ (1/B) Σ_b Σ_j |h_bj| (ReLU code) or KL sparsity Σ_j KL(ρ ‖ ρ̂_j) (sigmoid code) makes
most units silent for any one input. Sparsity is measured as the fraction of (image, unit)
activations below 0.01 on the test set; 1156 = 34², so a code is drawn as a 34x34 map. Each
penalised net is compared with the same net without a penalty on the same test images.
"""

from __future__ import annotations

import numpy as np
import torch

from regae.model.inference import encode, reconstruct
from regae.reports.section import Section
from regae.reports.tables import image, number_table
from regae.study import curves, figures
from regae.study.compare import compare_means, compare_psnr, image_errors, pm, seeds_mean, seeds_psnr, short
from regae.study.runner import StudyContext, one_per_class
from regae.study.specs import overcomplete

KEY = "study_sparse"
L1_WEIGHTS = (4e-6, 1.5e-6, 0.6e-6)
KL_WEIGHT, RHO = 3e-4, 0.05
NEAR_ZERO = 0.01
PLAIN, SIG_PLAIN, SIG_KL = "ReLU, no sparsity", "sigmoid, no sparsity", f"sigmoid, KL ρ={RHO}"


def sparsity_stats(h: torch.Tensor, threshold: float = NEAR_ZERO) -> dict[str, float]:
    """h (N, d) -> fraction of activations below ``threshold``, mean activation, mean L1 per image,
    fraction of units never above ``threshold`` (dead)."""
    return {
        "fraction_near_zero": float((h.abs() < threshold).float().mean()),
        "mean_activation": float(h.mean()),
        "mean_l1_per_image": float(h.abs().sum(1).mean()),
        "dead_units": float((h.abs().max(0).values < threshold).float().mean()),
    }


def per_image_near_zero(h: torch.Tensor, threshold: float = NEAR_ZERO) -> np.ndarray:
    """h (N, d) -> (N,) fraction of each image's code units below ``threshold``."""
    return (h.abs() < threshold).double().mean(1).numpy()


def run(ctx: StudyContext) -> list[Section]:
    x_test, y_test = ctx.test_set()
    specs = {PLAIN: overcomplete()}
    specs.update({f"ReLU, L1 λ={w:g}": overcomplete(l1=w) for w in L1_WEIGHTS})
    specs[SIG_PLAIN] = dict(overcomplete(), latent_activation="sigmoid")
    specs[SIG_KL] = overcomplete(kl=KL_WEIGHT, rho=RHO)
    metrics = {"near_zero_threshold": NEAR_ZERO, "models": {}}
    codes, models, groups, rows = {}, {}, {}, []
    near, errs, means = {}, {}, {}
    for name, spec in specs.items():
        runs = ctx.fit_seeds(f"784-1156-784 {name}", "overcomplete", **spec)
        groups[name], models[name] = runs, runs[0].model
        seed_codes = [encode(r.model, x_test) for r in runs]  # each (N, 1156)
        codes[name] = seed_codes[0]
        near[name] = np.stack([per_image_near_zero(h) for h in seed_codes])  # (seeds, N)
        means[name] = np.stack([h.double().mean(1).numpy() for h in seed_codes])  # (seeds, N)
        errs[name] = np.stack([image_errors(reconstruct(r.model, x_test), x_test) for r in runs])
        per_seed = [sparsity_stats(h) for h in seed_codes]
        m = {k: seeds_mean([p[k] for p in per_seed]) for k in per_seed[0]} | {"test_psnr": seeds_psnr(errs[name])}
        metrics["models"][name] = m
    for name in specs:
        base = SIG_PLAIN if name.startswith("sigmoid") else PLAIN
        m = metrics["models"][name]
        if name != base:
            m["near_zero_vs_no_penalty"] = compare_means(name, near[name], base, near[base], "points",
                                                         seed=ctx.seed, scale=100, digits=1)
            m["psnr_vs_no_penalty"] = compare_psnr(name, errs[name], base, errs[base], seed=ctx.seed)
            if name == SIG_KL:
                m["mean_activation_vs_no_penalty"] = compare_means(name, means[name], base, means[base], "",
                                                                   higher_is_better=False, seed=ctx.seed, digits=3)
        rows.append([name, pm(m["fraction_near_zero"], 3), pm(m["mean_activation"], 3), pm(m["mean_l1_per_image"], 0),
                     pm(m["dead_units"], 3), pm(m["test_psnr"]),
                     short(m["near_zero_vs_no_penalty"]) if name != base else "—",
                     short(m["psnr_vs_no_penalty"]) if name != base else "—"])
    metrics["training"] = curves.records(groups)
    idx = one_per_class(y_test)[:4]
    maps = [(name, [codes[name][i].view(34, 34) for i in idx]) for name in specs]
    map_path, map_rel = ctx.figure_path(KEY, "activation-maps.png")
    figures.heatmaps(map_path, maps, "Hidden activations (1156 units as 34x34), one row per model (first seed)",
                     col_titles=[f"digit {int(y_test[i])}" for i in idx])
    strongest = f"ReLU, L1 λ={max(L1_WEIGHTS):g}"
    fig_rels = [map_rel]
    for name, tag in ((PLAIN, "plain"), (strongest, "l1")):
        w = models[name].net.encoder[1].weight.detach().cpu()  # (1156, 784)
        top = codes[name].mean(0).argsort(descending=True)[:48]  # the most used units
        path, rel = ctx.figure_path(KEY, f"filters-{tag}.png")
        figures.tiles(path, w[top], f"Encoder filters of the 48 most active units: {name}", ncols=12)
        fig_rels.append(rel)
    frac_path, frac_rel = ctx.figure_path(KEY, "near-zero-fraction.png")
    figures.bars(frac_path, {n: 100 * metrics["models"][n]["fraction_near_zero"]["mean"] for n in specs},
                 "% activations < 0.01", "Sparsity of the code on the test set (mean over seeds)", annotate="{:.0f}%")
    fig_rels.append(frac_rel)
    learn_md, learn_rel = curves.section_block(ctx, KEY, groups, "Overcomplete AEs")
    fig_rels.append(learn_rel)
    sentences = [metrics["models"][n]["near_zero_vs_no_penalty"]["verdict"] for n in specs if n not in (PLAIN, SIG_PLAIN)]
    md = "\n\n".join([
        "784-**1156**-784 (more code units than pixels), MSE. ReLU codes with the L1 activity penalty "
        f"λ (1/B) Σ_b Σ_j |h_bj| for λ ∈ {{{', '.join(f'{w:g}' for w in L1_WEIGHTS)}}} (the course values) against "
        f"λ = 0; sigmoid codes with KL sparsity to ρ = {RHO} (weight {KL_WEIGHT:g}) against no penalty. "
        f"Near zero means |h| < {NEAR_ZERO}. The literature's direction (Ng's sparse autoencoder notes; Lee et al. "
        "2008; Goodfellow et al. 2016, §14.2.1): a sparsity penalty makes most units silent for any one input, at "
        "some cost in reconstruction.",
        ctx.budget_text("overcomplete"),
        number_table(["model", "fraction near zero", "mean h", "mean ‖h‖₁ per image", "dead units", "test PSNR (dB)",
               "near-zero fraction vs no penalty", "PSNR vs no penalty"], rows),
        "Paired bootstrap over the test images (per-image percentage of near-zero units, seeds averaged), against the "
        "same net without a penalty; *better* here means sparser: " + "; ".join(sentences) + ". KL: "
        + metrics["models"][SIG_KL]["mean_activation_vs_no_penalty"]["verdict"]
        + f" in mean activation (target ρ = {RHO}; lower is sparser).",
        image(frac_rel, "fraction of near-zero activations"),
        learn_md,
        image(map_rel, "activation maps"),
        image(fig_rels[1], "filters without sparsity"),
        image(fig_rels[2], "filters with L1 sparsity"),
    ])
    return [Section(KEY, "Overcomplete sparse AE", md, metrics, fig_rels)]

"""Experiment 5: an overcomplete 784-1156-784 AE, with and without sparsity.

Without a penalty an overcomplete code can copy its input; an L1 activity penalty
λ (1/B) Σ_b Σ_j |h_bj| (ReLU code) or KL sparsity Σ_j KL(ρ ‖ ρ̂_j) (sigmoid code) makes
most units silent for any one input. Sparsity is measured as the fraction of (image, unit)
activations below 0.01 on the test set; 1156 = 34², so a code is drawn as a 34x34 map.
"""

from __future__ import annotations

import torch

from regae.analysis.section import Section
from regae.study import figures
from regae.study.runner import StudyContext, encode, one_per_class, psnr, reconstruct
from regae.study.specs import overcomplete
from regae.study.writer import figure, table

KEY = "study_sparse"
L1_WEIGHTS = (4e-6, 1.5e-6, 0.6e-6)
KL_WEIGHT, RHO = 3e-4, 0.05
NEAR_ZERO = 0.01


def sparsity_stats(h: torch.Tensor, threshold: float = NEAR_ZERO) -> dict[str, float]:
    """h (N, d) -> fraction of activations below ``threshold``, mean activation, mean L1 per image,
    fraction of units never above ``threshold`` (dead)."""
    return {
        "fraction_near_zero": float((h.abs() < threshold).float().mean()),
        "mean_activation": float(h.mean()),
        "mean_l1_per_image": float(h.abs().sum(1).mean()),
        "dead_units": float((h.abs().max(0).values < threshold).float().mean()),
    }


def run(ctx: StudyContext) -> list[Section]:
    budget = ctx.budget.scaled(epochs=0.5)
    x_test, y_test = ctx.test_set()
    specs = {"ReLU, no sparsity": overcomplete()}
    specs.update({f"ReLU, L1 λ={w:g}": overcomplete(l1=w) for w in L1_WEIGHTS})
    specs["sigmoid, no sparsity"] = dict(overcomplete(), latent_activation="sigmoid")
    specs[f"sigmoid, KL ρ={RHO}"] = overcomplete(kl=KL_WEIGHT, rho=RHO)
    metrics = {"budget": budget.describe(), "near_zero_threshold": NEAR_ZERO, "models": {}}
    codes, models, rows = {}, {}, []
    for name, spec in specs.items():
        trained = ctx.fit(f"784-1156-784 {name}", budget=budget, **spec)
        models[name] = trained.model
        codes[name] = encode(trained.model, x_test)  # (N, 1156)
        m = sparsity_stats(codes[name]) | {"test_psnr": psnr(reconstruct(trained.model, x_test), x_test),
                                           "train_steps": trained.steps}
        metrics["models"][name] = m
        rows.append([name, m["fraction_near_zero"], m["mean_activation"], m["mean_l1_per_image"], m["dead_units"],
                     m["test_psnr"]])
    idx = one_per_class(y_test)[:4]
    maps = [(name, [codes[name][i].view(34, 34) for i in idx]) for name in specs]
    map_path, map_rel = ctx.figure_path(KEY, "activation-maps.png")
    figures.heatmaps(map_path, maps, "Hidden activations (1156 units as 34x34), one row per model",
                     col_titles=[f"digit {int(y_test[i])}" for i in idx])
    strongest = f"ReLU, L1 λ={max(L1_WEIGHTS):g}"
    fig_rels = [map_rel]
    for name, tag in (("ReLU, no sparsity", "plain"), (strongest, "l1")):
        w = models[name].net.encoder[1].weight.detach().cpu()  # (1156, 784)
        top = codes[name].mean(0).argsort(descending=True)[:48]  # the most used units
        path, rel = ctx.figure_path(KEY, f"filters-{tag}.png")
        figures.tiles(path, w[top], f"Encoder filters of the 48 most active units: {name}", ncols=12)
        fig_rels.append(rel)
    frac_path, frac_rel = ctx.figure_path(KEY, "near-zero-fraction.png")
    figures.bars(frac_path, {n: 100 * metrics["models"][n]["fraction_near_zero"] for n in specs},
                 "% activations < 0.01", "Sparsity of the code on the test set", annotate="{:.0f}%")
    fig_rels.append(frac_rel)
    l1_names = ["ReLU, no sparsity"] + [f"ReLU, L1 λ={w:g}" for w in L1_WEIGHTS]
    md = "\n\n".join([
        "784-**1156**-784 (more code units than pixels), MSE, Adam 1e-3. ReLU codes with the L1 activity penalty "
        f"λ (1/B) Σ_b Σ_j |h_bj| for λ ∈ {{{', '.join(f'{w:g}' for w in L1_WEIGHTS)}}} (the course values) against "
        f"λ = 0; sigmoid codes with KL sparsity to ρ = {RHO} (weight {KL_WEIGHT:g}) against no penalty. "
        f"Near zero means |h| < {NEAR_ZERO}.",
        f"Budget per model: {budget.describe()}.",
        table(["model", "fraction near zero", "mean h", "mean ‖h‖₁ per image", "dead units", "test PSNR (dB)"], rows),
        "Measured: the fraction of near-zero activations is {fr} for λ = {lams}; the KL penalty moves the mean "
        "sigmoid activation from {m0:.3f} to {m1:.3f} (target ρ = {rho}). Test PSNR: {p0:.1f} dB without "
        "a penalty, {p1:.1f} dB with the strongest L1.".format(
            p0=metrics["models"]["ReLU, no sparsity"]["test_psnr"], p1=metrics["models"][strongest]["test_psnr"],
            fr=", ".join(f"{metrics['models'][n]['fraction_near_zero']:.3f}" for n in l1_names),
            lams=", ".join(["0"] + [f"{w:g}" for w in L1_WEIGHTS]),
            m0=metrics["models"]["sigmoid, no sparsity"]["mean_activation"],
            m1=metrics["models"][f"sigmoid, KL ρ={RHO}"]["mean_activation"], rho=RHO),
        figure(frac_rel, "fraction of near-zero activations"),
        figure(map_rel, "activation maps"),
        figure(fig_rels[1], "filters without sparsity"),
        figure(fig_rels[2], "filters with L1 sparsity"),
    ])
    return [Section(KEY, "Overcomplete sparse AE", md, metrics, fig_rels)]

"""Hinton & Salakhutdinov 2006 (Science), "Reducing the dimensionality of data with neural networks", MNIST.

Fig. 2B's caption: the average squared error of 30-dimensional reconstructions of MNIST test
digits is 3.00 for the deep autoencoder, 8.01 for logistic PCA and 13.87 for PCA; "squared
error" is summed over the 784 pixels (intensities in [0, 1]) and averaged over the test images
(their code: ``err += 1/N * sum(sum((data - dataout).^2))``)::

    deep AE        784-1000-500-250-30 / 30-250-500-1000-784, logistic units, a linear 30-d code,
                   each layer pre-trained, then fine-tuned end to end with cross-entropy, 200 epochs
    logistic PCA   x̂ = sigmoid(V z + c) with a 30-d code z (here z = W x + b: an encoder, see below)
    PCA            x̂ = μ + V₃₀ V₃₀ᵀ (x − μ), not clipped: that gives the paper's 13.87 (measured: 13.86);
                   clipped to [0, 1], as regae's PCA baseline elsewhere is, it is 12.59 (reported beside it)
    squared error  Σ_i (x̂_i − x_i)² per image = 784 · MSE;  3.00 is a PSNR of 24.17 dB

What differs from the paper is in :data:`DIFFERENCES`, printed with the table.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from regae.data.dataset import to_float
from regae.data.mnist import load_split
from regae.model.inference import psnr_from_mse
from regae.model.inference import run as run_pass
from regae.reports.section import Section
from regae.reports.stats import paired_bootstrap
from regae.reports.tables import md_table, number_table
from regae.study import compare as cmp
from regae.study import convergence
from regae.study.budgets import Recipe
from regae.study.curves import last_quarter_gain
from regae.study.figures import curves
from regae.study.pca import fit_pca, pca_reconstruct
from regae.study.reproductions.published import Published, agreement, figure_cell
from regae.study.runner import StudyContext, Trained

KEY = "hinton2006"
TITLE = "Reducing the dimensionality of data with neural networks (Hinton & Salakhutdinov 2006), MNIST"
PIXELS = 784

PUBLISHED = Published(
    rows={"deep autoencoder": (3.00,), "logistic PCA": (8.01,), "PCA": (13.87,)},
    columns=("average squared error per test image",),
    source=("the caption of Fig. 2B (\"The average squared errors for the last three rows are 3.00, 8.01, and "
            "13.87\"), read from a copy of the caption; the definition of the error from Hinton's published Matlab "
            "code (backprop.m: squared error summed over the 784 pixels in [0, 1], averaged over the test images)."),
)
DEEP: dict[str, Any] = dict(arch="mlp", widths=[1000, 500, 250], latent_dim=30, decoder_widths=[250, 500, 1000],
                            latent_activation="none", hidden_activation="sigmoid", loss="bce")
LOGISTIC_PCA: dict[str, Any] = dict(arch="mlp", widths=[], latent_dim=30, latent_activation="none", loss="bce")
DEEP_RECIPE = Recipe("hinton-deep", epochs=(1, 200, 200), batch_size=100, lr=1e-3, seeds=(1, 3, 3), pretrain=(1, 10, 10))
LOGISTIC_RECIPE = Recipe("hinton-logistic-pca", epochs=(1, 50, 50), batch_size=100, lr=1e-3, seeds=(1, 3, 3))
DIFFERENCES = (
    "Pre-training: each layer is pre-trained as a shallow autoencoder (Bengio et al. 2007; squared error, Adam, "
    "10 epochs per layer, regae.study.pretrain) where the paper trained a stack of RBMs (contrastive divergence, 50 "
    "epochs per layer, a Gaussian top layer).",
    "Fine-tuning: Adam (rate 1e-3, cosine decay, minibatches of 100) on the same cross-entropy for 200 epochs, where "
    "the paper used conjugate gradients (Rasmussen's minimize, three line searches on each minibatch of 1,000).",
    "Logistic PCA: the 30-d code is a linear function of the image (a 784-30-784 autoencoder with a linear code and "
    "logistic outputs, trained with cross-entropy), where logistic PCA fits each image's code by itself; ours can "
    "only be worse than the optimum.",
    "Data: 55,000 training images (5,000 held out for the learning curves) where the paper trained on all 60,000.",
)


#: PCA's reconstructions clipped to the pixel range: not in the paper, reported beside its row
CLIPPED = "PCA, clipped to [0, 1]"


def squared_errors(model, images) -> np.ndarray:
    """Σ_i (x̂_i − x_i)² of each image (N,), the paper's error (784 · the per-pixel mean)."""
    return PIXELS * run_pass(model, images).sq_err.numpy()


def summary(errors: list[np.ndarray] | np.ndarray, seed: int = 0) -> dict:
    """Mean ± std over seeds of the average squared error, and a 95 % interval (bootstrap over the test
    images of the seed-averaged per-image error)."""
    per_seed = np.atleast_2d(np.asarray(errors, float))  # (seeds, N)
    boot = paired_bootstrap(per_seed.mean(0), np.zeros(per_seed.shape[1]), n_boot=cmp.N_BOOT, seed=seed)
    means = per_seed.mean(1)
    return {"mean": float(means.mean()), "std": float(means.std(ddof=1)) if len(means) > 1 else None,
            "ci_low": boot["ci_low"], "ci_high": boot["ci_high"], "per_seed": means.tolist(),
            "psnr_db": float(psnr_from_mse(means.mean() / PIXELS))}


def run(ctx: StudyContext) -> list[Section]:
    test = load_split("test")
    images = test.images[: ctx.level.test_images]
    x_train, _ = ctx.train_set(DEEP_RECIPE)
    ctx.log("[hinton2006] PCA-30 on the training images")
    pca = fit_pca(x_train, 30)
    x_test = to_float(images)
    x_hat = pca_reconstruct(pca, x_test)
    errors = {"PCA": PIXELS * cmp.image_errors(x_hat, x_test), CLIPPED: PIXELS * cmp.image_errors(x_hat.clamp(0, 1), x_test)}
    ctx.log("[hinton2006] logistic PCA (784-30-784, linear code, logistic outputs)")
    logistic = ctx.fit_seeds("logistic PCA", LOGISTIC_RECIPE, **LOGISTIC_PCA)
    errors["logistic PCA"] = np.stack([squared_errors(t.model, images) for t in logistic])
    ctx.log("[hinton2006] the deep autoencoder: layer-wise pre-training, then 200 epochs of fine-tuning")
    deep = ctx.fit_seeds("deep autoencoder", DEEP_RECIPE, **DEEP)
    errors["deep autoencoder"] = np.stack([squared_errors(t.model, images) for t in deep])
    gap = convergence.generalisation_gap(deep[0].model, x_train, ctx.val_set()[0], seed=ctx.seed)
    return [table_section(ctx, errors),
            curves_section(ctx, {"deep autoencoder": deep, "logistic PCA": logistic}, errors, gap)]


def table_section(ctx: StudyContext, errors: dict[str, np.ndarray]) -> Section:
    rows, metrics = [], {}
    for name, (paper,) in PUBLISHED.rows.items():
        s = summary(errors[name], seed=ctx.seed)
        target = agreement(paper, s["mean"], (s["ci_low"], s["ci_high"]), tolerance=0.2)
        met = s["mean"] <= paper if name == "deep autoencoder" else None
        rows.append([name, f"{paper:.2f}", figure_cell(s, ""), f"{s['psnr_db']:.2f} dB",
                     target["text"] + ("" if met is None else f"; ≤ {paper:.2f}: {'yes' if met else '**no**'}")])
        metrics[name] = {"paper": paper, "ours": s, "agrees": target, "target_met": met}
    clipped = summary(errors[CLIPPED], seed=ctx.seed)
    metrics[CLIPPED] = {"paper": None, "ours": clipped}
    comparisons = []
    for a, b in (("deep autoencoder", "logistic PCA"), ("deep autoencoder", "PCA"), ("logistic PCA", "PCA")):
        res = cmp.compare_means(a, errors[a], b, errors[b], "", higher_is_better=False, digits=2)
        comparisons.append([f"{a} < {b}", "holds" if res["estimate"] < 0 and res["p"] < 0.05 else "not shown",
                            res["verdict"]])
        metrics.setdefault("orderings", []).append({"a": a, "b": b, **res})
    text = (md_table(["model", "paper", "ours (mean ± std over seeds) [95 % CI]", "ours as PSNR", "agrees?"], rows)
            + f"\n\nAverage squared error per test image, summed over the 784 pixels, on {len(errors['PCA']):,} test "
            "images; the interval is the bootstrap over the test images of the seed-averaged per-image error. "
            "The paper's target for the deep autoencoder is 3.00 or less. PCA's row is the paper's PCA, its "
            "reconstructions not clipped to the pixel range; clipped to [0, 1], as regae's PCA baseline is "
            f"elsewhere, PCA-30 scores {figure_cell(clipped, '')}.\n\nThe paper's ordering, tested on the "
            "same test images (paired bootstrap of the seed-averaged per-image error):\n\n"
            + md_table(["ordering", "here", "difference, 95 % interval, p"], comparisons)
            + f"\n\nSource of the published numbers: {PUBLISHED.source}\n\nWhere this run differs from the paper:\n\n"
            + "\n".join(f"- {d}" for d in DIFFERENCES) + "\n\nBudgets: " + ctx.budget_text(DEEP_RECIPE) + " "
            + ctx.budget_text(LOGISTIC_RECIPE))
    return Section(f"{KEY}_table", "Fig. 2B, MNIST: the paper and this run", text, metrics)


#: what each diagnosis of a missed 3.00 points to in this protocol (see DIFFERENCES)
WHY = {
    "rising": " The paper's 200 epochs are the budget here too, so what is left is the optimiser: Adam with cosine "
              "decay, where the paper ran conjugate gradients.",
    "gap": " Candidates in the protocol, not measured here: the paper's RBM pre-training where this run pre-trains "
           "shallow autoencoders, and its 5,000 more training images (all 60,000).",
    "converged": " What is left is the protocol: each layer pre-trained as a shallow autoencoder where the paper "
                 "trained RBMs, and Adam where the paper ran conjugate gradients (the list above).",
}


#: a curve of fewer epochs is too short to read a last quarter from
MIN_EPOCHS = 4


def why_note(runs: list[Trained], mean_error: float, gap: dict) -> tuple[str, dict]:
    """Whether the deep AE met 3.00 and, if not, why: its validation curve's last-quarter gain (mean over
    seeds) and its final net's train/validation gap (:mod:`regae.study.convergence`)."""
    gain, epochs = last_quarter_gain(np.mean([t.val_psnr for t in runs], axis=0)), len(runs[0].val_psnr)
    kind = convergence.diagnosis(gain, gap) if epochs >= MIN_EPOCHS else "too short"
    record = {"last_quarter_gain_db": gain, "train_minus_val_db": gap, "diagnosis": kind, "met": mean_error <= 3.00}
    text = (f"The deep autoencoder's validation curve (mean over {len(runs)} seed(s)) gained {gain:+.2f} dB over the last "
            f"quarter of its {epochs} epoch(s). Its final net (seed {runs[0].seed}) reconstructs "
            f"{gap['n_train']:,} of its training images at {gap['train_psnr']:.2f} dB and the {gap['n_val']:,} held-out "
            f"validation images at {gap['val_psnr']:.2f} dB: {convergence.gap_text(gap)}; bootstrap over the images of "
            "each set.")
    if record["met"]:
        return text + f" The target is met: {mean_error:.2f} ≤ 3.00.", record
    if kind == "too short":
        return text + f" Test error {mean_error:.2f} > 3.00, from a curve too short to say why.", record
    return text + f" Test error {mean_error:.2f} > 3.00." + convergence.why_missed(gain, gap)[1] + WHY[kind], record


def curves_section(ctx: StudyContext, runs: dict[str, list[Trained]], errors: dict[str, np.ndarray],
                   gap: dict) -> Section:
    path, rel = ctx.figure_path(KEY, "curves.png")
    series = {name: (range(1, len(r[0].val_psnr) + 1), PIXELS * 10 ** (-np.mean([t.val_psnr for t in r], axis=0) / 10))
              for name, r in runs.items()}
    series["paper: deep autoencoder (test)"] = ([1, len(runs["deep autoencoder"][0].val_psnr)], [3.00, 3.00])
    curves(path, series, "epoch", "validation squared error per image", "Learning curves (mean over seeds)",
           logy=True, integer_x=True)
    rows = [[name, len(r), r[0].budget.epochs, f"{np.mean([t.seconds for t in r]) / 60:.1f} min",
             f"{PIXELS * 10 ** (-np.mean([t.val_psnr[-1] for t in r]) / 10):.3f}"] for name, r in runs.items()]
    why, convergence_record = why_note(runs["deep autoencoder"], float(errors["deep autoencoder"].mean()), gap)
    text = (f"![learning curves]({rel.as_posix()})\n\n"
            + number_table(["model", "seeds", "epochs", "training (wall, per seed)", "final validation error"], rows)
            + "\n\n" + why)
    metrics: dict = {name: {"val_squared_error_per_epoch": [(PIXELS * 10 ** (-np.asarray(t.val_psnr) / 10)).tolist()
                                                            for t in r],
                            "seconds": [t.seconds for t in r], "cached": [t.cached for t in r]}
                     for name, r in runs.items()}
    metrics["convergence"] = convergence_record
    return Section(f"{KEY}_curves", "Learning curves and training times", text, metrics, [rel])

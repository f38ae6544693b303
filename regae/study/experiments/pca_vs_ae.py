"""Experiment 1: PCA with 30 components vs the deep AE with a 30-d code (Hinton & Salakhutdinov 2006).

Their anchor (Science 313:504, Fig. 2 caption): average squared error per MNIST test image
(summed over the 784 pixels) 3.00 for the deep AE 784-1000-500-250-30 against 13.87 for
PCA-30. Per pixel that is an MSE of 3.00 / 784 and 13.87 / 784, i.e. PSNR 24.2 and 17.5 dB.
"""

from __future__ import annotations

import numpy as np

from regae.model.inference import psnr, psnr_from_mse, reconstruct
from regae.reports.section import Section
from regae.reports.tables import image, number_table
from regae.study import convergence, curves, figures
from regae.study.compare import compare_psnr, image_errors, pm, seeds_psnr
from regae.study.pca import fit_pca, pca_reconstruct, residual_variance, truncate
from regae.study.runner import StudyContext, one_per_class
from regae.study.specs import DEEP_AE, DEEP_NAME

KEY = "study_pca"
COMPONENTS = (5, 10, 20, 30, 50, 100)
HINTON_AE_SSE, HINTON_PCA_SSE = 3.00, 13.87  # squared error per test image, summed over pixels
TARGET_PSNR, TARGET_MARGIN = float(psnr_from_mse(HINTON_AE_SSE / 784)), 5.0


def targets(ae: dict, diff: dict) -> dict:
    """Whether the deep AE meets the issue's targets: PSNR >= Hinton's 24.2 dB and >= 5 dB above PCA-30
    (the margin judged on the lower end of its 95 % interval)."""
    return {"psnr_target_db": TARGET_PSNR, "psnr_met": ae["mean"] >= TARGET_PSNR,
            "margin_target_db": TARGET_MARGIN, "margin_met": diff["ci_low"] >= TARGET_MARGIN}


def run(ctx: StudyContext) -> list[Section]:
    x_train, _ = ctx.train_set("deep")
    x_test, y_test = ctx.test_set()
    full = fit_pca(x_train, max(COMPONENTS))
    pcas = {k: truncate(full, k) for k in COMPONENTS}
    pca_test = {k: pca_reconstruct(p, x_test).clamp(0, 1) for k, p in pcas.items()}
    runs = ctx.fit_seeds(DEEP_NAME, "deep", **DEEP_AE)
    ae_test = [reconstruct(r.model, x_test) for r in runs]
    err_ae = np.stack([image_errors(x, x_test) for x in ae_test])  # (seeds, N)
    err_pca = image_errors(pca_test[30], x_test)  # (N,)
    ae, pca30 = seeds_psnr(err_ae), seeds_psnr(err_pca)
    diff = compare_psnr("AE-30", err_ae, "PCA-30", err_pca, seed=ctx.seed)
    pca_curve = {k: {"train_mse_closed_form": residual_variance(p), "test_mse": float(image_errors(pca_test[k], x_test).mean()),
                     "test_psnr": float(psnr(pca_test[k], x_test))} for k, p in pcas.items()}
    met = targets(ae, diff)
    gap = convergence.generalisation_gap(runs[0].model, x_train, ctx.val_set()[0], seed=ctx.seed)
    metrics = {
        "pca30": {"test_mse": float(err_pca.mean()), "test_psnr": pca30["mean"],
                  "sse_per_image": 784 * float(err_pca.mean())},
        "ae30": {"test_psnr": ae, "test_mse": float(err_ae.mean()), "sse_per_image": 784 * float(err_ae.mean()),
                 "net": DEEP_NAME},
        "ae_minus_pca_db": diff, "targets": met, "train_minus_val_db": gap, "pca_by_components": pca_curve,
        "hinton2006": {"ae_sse_per_image": HINTON_AE_SSE, "pca_sse_per_image": HINTON_PCA_SSE,
                       "ae_psnr": TARGET_PSNR, "pca_psnr": float(psnr_from_mse(HINTON_PCA_SSE / 784))},
        "training": curves.records({DEEP_NAME: runs}),
    }
    idx = one_per_class(y_test)
    grid_path, grid_rel = ctx.figure_path(KEY, "reconstructions.png")
    figures.image_rows(grid_path, [("original", x_test[idx]), ("PCA-30", pca_test[30][idx]),
                                   ("AE-30", ae_test[0][idx])], title="MNIST test digits and their 30-d reconstructions")
    curve_path, curve_rel = ctx.figure_path(KEY, "pca-components.png")
    figures.curves(curve_path, {"PCA (test)": (COMPONENTS, [pca_curve[k]["test_psnr"] for k in COMPONENTS]),
                                f"{DEEP_NAME} (test)": ([30], [ae["mean"]]),
                                "Hinton 2006: deep AE": ([30], [TARGET_PSNR]),
                                "Hinton 2006: PCA-30": ([30], [metrics["hinton2006"]["pca_psnr"]])},
                   "components / code size", "PSNR (dB)", "Test PSNR vs code size", markers=True)
    learn_md, learn_rel = curves.section_block(ctx, KEY, {DEEP_NAME: runs}, "Deep AE", references={
        f"Hinton 2006 deep AE ({TARGET_PSNR:.1f} dB, test)": TARGET_PSNR, f"PCA-30 ({pca30['mean']:.1f} dB, test)": pca30["mean"]})
    yes = {True: "met", False: "**not met**"}
    md = "\n\n".join([
        f"PCA with 30 components (the best linear code) against the {DEEP_NAME} / 30-250-500-1000-784 of Hinton & "
        "Salakhutdinov (Science 2006): ReLU, linear 30-d code, sigmoid output, MSE, Adam. Each layer is first "
        "pre-trained as a shallow autoencoder on the codes of the layers below (Bengio et al. 2007; Hinton & "
        "Salakhutdinov used RBMs), then the whole net trains end to end. PCA is fitted on the same training images "
        "the AE trains on; both are scored on the same test images.",
        ctx.budget_text("deep"),
        number_table(["model", "test MSE", "squared error per image (Σ over 784 pixels)", "test PSNR (dB)"], [
            ["PCA-30", metrics["pca30"]["test_mse"], metrics["pca30"]["sse_per_image"], f"{pca30['mean']:.2f}"],
            [f"AE-30 ({DEEP_NAME})", metrics["ae30"]["test_mse"], metrics["ae30"]["sse_per_image"], pm(ae)],
            ["Hinton 2006, PCA-30", HINTON_PCA_SSE / 784, HINTON_PCA_SSE, f"{metrics['hinton2006']['pca_psnr']:.2f}"],
            ["Hinton 2006, deep AE", HINTON_AE_SSE / 784, HINTON_AE_SSE, f"{TARGET_PSNR:.2f}"],
        ]),
        f"Paired bootstrap over the {len(x_test):,} test images: {diff['verdict']}.",
        f"Targets: AE-30 ≥ {TARGET_PSNR:.1f} dB (Hinton's 3.00 per image): {yes[met['psnr_met']]} "
        f"({ae['mean']:.2f} dB); AE-30 ≥ PCA-30 + {TARGET_MARGIN:g} dB (lower end of the interval): "
        f"{yes[met['margin_met']]} ({diff['ci_low']:+.2f} dB).",
        convergence_note(runs, met, gap),
        learn_md,
        image(grid_rel, "originals, PCA-30 and AE-30 reconstructions"),
        number_table(["PCA components", "train MSE (Σ left-out λ / 784)", "test MSE", "test PSNR (dB)"],
              [[k, pca_curve[k]["train_mse_closed_form"], pca_curve[k]["test_mse"], pca_curve[k]["test_psnr"]]
               for k in COMPONENTS]),
        image(curve_rel, "PCA test PSNR vs number of components, AE-30 as a point"),
    ])
    return [Section(KEY, "PCA-30 vs a deep autoencoder", md, metrics, [learn_rel, grid_rel, curve_rel])]


def convergence_note(runs, met: dict, gap: dict) -> str:
    """What the learning curve and the final net say about the budget: the last-quarter gain (one
    seed, no interval) and the train/validation gap of the final net, with its interval."""
    rec = curves.group_record(runs)
    text = (f"The learning curve (seed {runs[0].seed}, so without an interval): validation PSNR "
            f"{rec['final_val_psnr_mean']:.2f} dB after {runs[0].budget.epochs} epochs, "
            f"{rec['last_quarter_gain_db']:+.2f} dB over the last quarter of them, where the cosine schedule takes the "
            f"learning rate towards 0. The final net reconstructs {gap['n_train']:,} of its training images at "
            f"{gap['train_psnr']:.2f} dB and the {gap['n_val']:,} held-out validation images at {gap['val_psnr']:.2f} "
            f"dB: {convergence.gap_text(gap)}; bootstrap over the images of each set.")
    if met["psnr_met"]:
        return text
    return text + why_missed(rec["last_quarter_gain_db"], gap)


#: what two regularized pilots of the default level's deep AE measured (commands, dates, curves: docs/study/pilots)
REGULARIZED_PILOTS = (
    " Regularizing the net without pre-training on the same budget did not close it either (validation PSNR of pilot runs, one "
    "seed each, so without an interval; docs/study/pilots): "
    "Gaussian input noise σ = 0.2 (a denoising criterion) ended at 21.40 dB after the 50 epochs, 0.76 dB below "
    "the plain net, and Adam's L2 weight decay 3e-5 held it at 16.58 dB after 11 epochs (the plain net: 20.47 dB "
    "after 10), where that pilot was stopped; input noise slows the fit more than it narrows the gap."
)


#: what the deep AE's pilots with and without pre-training measured (commands, dates, curves: docs/study/pilots)
PRETRAINED_PILOT = (
    " Pre-training is what narrowed the gap in the pilots of the default level's 50-epoch budget (one seed each, "
    "so without an interval; docs/study/pilots): from a random start the same net ended at 22.16 dB validation "
    "PSNR, pre-trained (5 epochs per layer, 70 s on 2 threads) at 23.59 dB, at least 1.28 dB ahead at every epoch."
)


def why_missed(last_quarter_gain: float, gap: dict) -> str:
    """Why the PSNR target was missed (:func:`regae.study.convergence.why_missed`), with what this
    study measured for each diagnosis: the regularized pilots go with a generalisation gap."""
    kind, text = convergence.why_missed(last_quarter_gain, gap)
    hinton = (" Hinton & Salakhutdinov pre-trained each layer as an RBM and then fine-tuned the whole net with "
              "conjugate gradients; here each layer is pre-trained as a shallow autoencoder and the net then trained "
              "with Adam." + PRETRAINED_PILOT)
    extra = {"rising": " The full level trains longer.", "gap": REGULARIZED_PILOTS}.get(kind, "")
    return text + extra + hinton

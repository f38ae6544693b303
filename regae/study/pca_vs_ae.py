"""Experiment 1: PCA with 30 components vs the deep MLP AE with a 30-d code."""

from __future__ import annotations

from regae.analysis.section import Section
from regae.study import figures
from regae.study.pca import fit_pca, pca_reconstruct, residual_variance, truncate
from regae.study.runner import StudyContext, mse, one_per_class, psnr, reconstruct
from regae.study.specs import DEEP_AE
from regae.study.writer import figure, table

KEY = "study_pca"
COMPONENTS = (5, 10, 20, 30, 50, 100)


def run(ctx: StudyContext) -> list[Section]:
    x_train, _ = ctx.train_set()
    x_test, y_test = ctx.test_set()
    full = fit_pca(x_train, max(COMPONENTS))
    pcas = {k: truncate(full, k) for k in COMPONENTS}
    pca_test = {k: pca_reconstruct(p, x_test).clamp(0, 1) for k, p in pcas.items()}
    trained = ctx.fit("deep MLP AE 784-512-256-128-30", **DEEP_AE)
    ae_test = reconstruct(trained.model, x_test)

    pca_curve = {k: {"train_mse_closed_form": residual_variance(p), "test_mse": mse(pca_test[k], x_test),
                     "test_psnr": psnr(pca_test[k], x_test)} for k, p in pcas.items()}
    metrics = {
        "pca30": {"test_mse": mse(pca_test[30], x_test), "test_psnr": psnr(pca_test[30], x_test)},
        "ae30": {"test_mse": mse(ae_test, x_test), "test_psnr": psnr(ae_test, x_test),
                 "train_steps": trained.steps, "train_seconds": trained.seconds},
        "pca_by_components": pca_curve,
        "budget": ctx.budget.describe(),
    }
    idx = one_per_class(y_test)
    grid_path, grid_rel = ctx.figure_path(KEY, "reconstructions.png")
    figures.image_rows(grid_path, [("original", x_test[idx]), ("PCA-30", pca_test[30][idx]),
                                   ("AE-30", ae_test[idx])], title="MNIST test digits and their 30-d reconstructions")
    curve_path, curve_rel = ctx.figure_path(KEY, "pca-components.png")
    figures.curves(curve_path, {"PCA (test)": (COMPONENTS, [pca_curve[k]["test_psnr"] for k in COMPONENTS]),
                                "AE-30 (test)": ([30], [metrics["ae30"]["test_psnr"]])},
                   "components / code size", "PSNR (dB)", "Test PSNR vs code size", markers=True)
    better = "the AE" if metrics["ae30"]["test_mse"] < metrics["pca30"]["test_mse"] else "PCA"
    md = "\n\n".join([
        "PCA with 30 components (a linear AE with the optimal linear code) against the deep MLP AE "
        "784-512-256-128-**30** / 30-128-256-784 (ReLU, linear code, sigmoid output, Adam 3e-4, MSE). "
        "PCA is fitted on the same training images the AE trains on.",
        f"Budget: {ctx.budget.describe()}.",
        table(["model", "test MSE", "test PSNR (dB)"], [
            ["PCA-30", metrics["pca30"]["test_mse"], metrics["pca30"]["test_psnr"]],
            ["AE-30", metrics["ae30"]["test_mse"], metrics["ae30"]["test_psnr"]],
        ]),
        f"With this budget **{better}** reconstructs the test digits better at 30 dimensions. "
        "The non-linear AE can beat the best linear projection only once it is trained long enough; "
        "with a small budget PCA (which is solved in closed form) may still win.",
        figure(grid_rel, "originals, PCA-30 and AE-30 reconstructions"),
        table(["PCA components", "train MSE (Σ left-out λ / 784)", "test MSE", "test PSNR (dB)"],
              [[k, pca_curve[k]["train_mse_closed_form"], pca_curve[k]["test_mse"], pca_curve[k]["test_psnr"]]
               for k in COMPONENTS]),
        figure(curve_rel, "PCA test PSNR vs number of components, AE-30 as a point"),
    ])
    return [Section(KEY, "PCA-30 vs a deep autoencoder", md, metrics, [grid_rel, curve_rel])]

"""Experiment 2: undercomplete one-hidden-layer AEs of growing code size."""

from __future__ import annotations

from regae.analysis.section import Section
from regae.study import figures
from regae.study.pca import fit_pca, pca_reconstruct, truncate
from regae.study.runner import StudyContext, encode, mse, one_per_class, psnr, reconstruct
from regae.study.specs import SHALLOW_BCE, shallow
from regae.study.writer import figure, table

KEY = "study_undercomplete"
HIDDEN = (64, 128, 256)


def collapse_note(m: dict) -> str:
    """A measured sentence on whether the sigmoid code varies across images."""
    text = (f"The sigmoid 784-32-784 code: {m['code_fraction_saturated']:.0%} of its activations are saturated "
            f"(< 0.01 or > 0.99); each unit's std across test images is {m['code_std_across_images']:.3f} on average. ")
    if m["code_std_across_images"] < 0.05:
        return text + ("A code that barely changes with the input decodes every image to nearly the same (mean) "
                       "digit: at this budget this AE has collapsed into saturation.")
    return text + "The code varies with the input, as a working AE's must."


def run(ctx: StudyContext) -> list[Section]:
    x_train, _ = ctx.train_set()
    x_test, y_test = ctx.test_set()
    models = {f"784-{h}-784 ReLU, MSE": (h, shallow(h)) for h in HIDDEN}
    models["784-32-784 sigmoid, BCE"] = (32, SHALLOW_BCE)
    pca_fit = fit_pca(x_train, max(HIDDEN))
    rows, recons, metrics = [], {}, {"budget": ctx.budget.describe(), "models": {}}
    for name, (h, spec) in models.items():
        trained = ctx.fit(name, **spec)
        x_hat = reconstruct(trained.model, x_test)
        pca = pca_reconstruct(truncate(pca_fit, h), x_test).clamp(0, 1)
        m = {"hidden": h, "test_mse": mse(x_hat, x_test), "test_psnr": psnr(x_hat, x_test),
             "pca_same_size_psnr": psnr(pca, x_test), "train_steps": trained.steps, "train_seconds": trained.seconds}
        codes = encode(trained.model, x_test)  # (N, h)
        saturated = ((codes < 0.01) | (codes > 0.99)).float().mean()
        m["code_fraction_saturated"] = float(saturated) if spec is SHALLOW_BCE else None
        m["code_std_across_images"] = float(codes.std(0).mean())
        metrics["models"][name] = m
        recons[name] = x_hat
        rows.append([name, h, m["test_mse"], m["test_psnr"], m["pca_same_size_psnr"]])
    relu = [n for n in models if "ReLU" in n]
    idx = one_per_class(y_test)
    grid_path, grid_rel = ctx.figure_path(KEY, "reconstructions.png")
    figures.image_rows(grid_path, [("original", x_test[idx])] + [(n.split(",")[0], recons[n][idx]) for n in models],
                       title="Reconstructions by code size")
    curve_path, curve_rel = ctx.figure_path(KEY, "psnr-vs-size.png")
    figures.curves(curve_path, {
        "AE 784-h-784 (ReLU, MSE)": (HIDDEN, [metrics["models"][n]["test_psnr"] for n in relu]),
        "PCA-h": (HIDDEN, [metrics["models"][n]["pca_same_size_psnr"] for n in relu]),
        "AE 784-32-784 (sigmoid, BCE)": ([32], [metrics["models"]["784-32-784 sigmoid, BCE"]["test_psnr"]]),
    }, "code size h", "test PSNR (dB)", "Reconstruction quality vs code size", markers=True)
    psnrs = [metrics["models"][n]["test_psnr"] for n in relu]
    trend = "grows with" if all(a < b for a, b in zip(psnrs, psnrs[1:])) else "does not grow monotonically with"
    md = "\n\n".join([
        "One hidden layer, 784-h-784 (ReLU code, sigmoid output, MSE, Adam 1e-3) for h ∈ {64, 128, 256}, and the "
        "classic 784-32-784 AE with a sigmoid code and binary cross-entropy. PCA with the same number of "
        "components is the linear reference.",
        f"Budget per model: {ctx.budget.describe()}.",
        table(["model", "code size", "test MSE", "test PSNR (dB)", "PCA same size PSNR (dB)"], rows),
        f"Measured: the test PSNR {trend} the code size for the ReLU AEs "
        f"({', '.join(f'{p:.1f}' for p in psnrs)} dB for h = {', '.join(map(str, HIDDEN))}).",
        collapse_note(metrics["models"]["784-32-784 sigmoid, BCE"]),
        figure(grid_rel, "reconstructions by code size"),
        figure(curve_rel, "test PSNR vs code size"),
    ])
    return [Section(KEY, "Undercomplete AEs: error vs code size", md, metrics, [grid_rel, curve_rel])]

"""Experiment 3: what a digit AE does with inputs that are not digits.

Fashion-MNIST test images (Debian package ``dataset-fashion-mnist``) and uniform / gaussian
noise images go through the deep MLP AE trained on MNIST. A large reconstruction error
flags an input the AE has not learned; the AUROC of the per-image error as a detector of
non-digits (MNIST test = negatives) is the rank statistic P(err_other > err_mnist), and the
Mann–Whitney U test (of which it is the normalised statistic) gives its one-sided p-value.
With several seeds of the AE, each image's error is averaged over the seeds.
"""

from __future__ import annotations

import torch
from scipy.stats import mannwhitneyu
from sklearn.metrics import roc_auc_score

from regae.data.mnist import to_float
from regae.data.ood import fashion_available, gaussian_noise, load_fashion, missing_fashion_message, uniform_noise
from regae.model.inference import per_image_mse, psnr, reconstruct
from regae.reports.section import Section
from regae.reports.stats import fmt_p
from regae.reports.tables import image, number_table
from regae.study import figures
from regae.study.runner import StudyContext, one_per_class
from regae.study.specs import DEEP_AE, DEEP_NAME

KEY = "study_nondigits"


def run(ctx: StudyContext) -> list[Section]:
    x_test, y_test = ctx.test_set()
    n = len(x_test)
    gen = torch.Generator().manual_seed(ctx.seed + 3)
    inputs = {"MNIST test": x_test}
    note = ""
    if fashion_available():
        fashion = load_fashion("test")
        inputs["Fashion-MNIST"] = to_float(fashion.images[:n])
        fashion_idx = one_per_class(fashion.labels[:n])
    else:
        note = f"**Fashion-MNIST is missing**: {missing_fashion_message()}. Only the noise inputs are shown."
    inputs["uniform noise"] = uniform_noise(n, generator=gen)
    inputs["gaussian noise"] = gaussian_noise(n, generator=gen)
    runs = ctx.fit_seeds(DEEP_NAME, "deep", **DEEP_AE)
    recons = {name: [reconstruct(r.model, x) for r in runs] for name, x in inputs.items()}
    recon = {name: xs[0] for name, xs in recons.items()}  # first seed, for the figures
    errors = {name: torch.stack([per_image_mse(xh, x) for xh in recons[name]]).mean(0) for name, x in inputs.items()}
    metrics = {"budget": ctx.budget("deep").describe(), "seeds": len(runs), "fashion_mnist_available": fashion_available(),
               "inputs": {}}
    rows = []
    for name, x in inputs.items():
        m = {"test_mse": float(errors[name].mean()), "test_psnr": float(psnr(recon[name], x)),
             "mse_ratio_to_mnist": float(errors[name].mean() / errors["MNIST test"].mean())}
        if name != "MNIST test":
            scores = torch.cat([errors["MNIST test"], errors[name]]).numpy()
            truth = [0] * n + [1] * len(errors[name])
            m["auroc_vs_mnist"] = float(roc_auc_score(truth, scores))
            m["mann_whitney_p"] = float(mannwhitneyu(errors[name].numpy(), errors["MNIST test"].numpy(),
                                                     alternative="greater").pvalue)
        metrics["inputs"][name] = m
        rows.append([name, m["test_mse"], m["test_psnr"], m["mse_ratio_to_mnist"], m.get("auroc_vs_mnist", "—"),
                     fmt_p(m["mann_whitney_p"]) if "mann_whitney_p" in m else "—"])

    digit_idx = one_per_class(y_test)
    grid_rows = [("MNIST", x_test[digit_idx]), ("AE(MNIST)", recon["MNIST test"][digit_idx])]
    if "Fashion-MNIST" in inputs:
        grid_rows += [("Fashion", inputs["Fashion-MNIST"][fashion_idx]), ("AE(Fashion)", recon["Fashion-MNIST"][fashion_idx])]
    for name in ("uniform noise", "gaussian noise"):
        grid_rows += [(name.split()[0], inputs[name][:10]), (f"AE({name.split()[0]})", recon[name][:10])]
    grid_path, grid_rel = ctx.figure_path(KEY, "reconstructions.png")
    figures.image_rows(grid_path, grid_rows, title="Inputs (odd rows) and the digit AE's reconstructions (even rows)")
    hist_path, hist_rel = ctx.figure_path(KEY, "error-histogram.png")
    figures.histograms(hist_path, {k: v.log10() for k, v in errors.items()}, "log10 per-image MSE",
                       "Reconstruction error per image, by input kind", logy=False)
    md = "\n\n".join(filter(None, [
        f"The {DEEP_NAME} (trained on MNIST digits only: the PCA section's model, first seed in the figures) "
        f"reconstructs {n:,} images of each kind: MNIST test digits, Fashion-MNIST test images (clothes, from "
        "the Debian package `dataset-fashion-mnist`), uniform noise U(0,1) and gaussian noise with MNIST's "
        "pixel mean and std (clipped to [0, 1]).",
        note,
        ctx.budget_text("deep") + " Its learning curve is in the PCA section.",
        number_table(["input", "MSE", "PSNR (dB)", "MSE / MNIST MSE", "AUROC of error vs MNIST",
               "Mann–Whitney p (error larger than on MNIST)"], rows),
        "The AE can only draw what it learned: in the grid, clothes come back as blurry digit-like shapes and "
        "every noise image as nearly the same faint digit-like blob. The table's MSE ratio says how many times "
        "larger the error on non-digits is, and the AUROC how well the per-image error alone tells them from "
        "digits (1 = perfectly, 0.5 = not at all); the Mann–Whitney test asks whether the per-image errors are "
        "larger than on MNIST test digits at all.",
        image(grid_rel, "inputs and reconstructions"),
        image(hist_rel, "per-image reconstruction error histograms"),
    ]))
    return [Section(KEY, "Inputs that are not digits", md, metrics, [grid_rel, hist_rel])]

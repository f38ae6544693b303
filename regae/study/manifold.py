"""Experiment 7: the 8-d code of a deep AE, perturbed by gaussian noise and decoded.

For test codes h (N, 8) and scale s, the decoded ĥ = D(h + s·ε), ε ~ N(0, I_8). Small s
stays on the learned digit manifold (the same digit, slightly changed); large s leaves
it. "Still a digit" is measured by the study's clean-trained CNN: the fraction of decoded
images it assigns the original label, and its mean top-class probability (confidence).
"""

from __future__ import annotations

import torch

from regae.analysis.section import Section
from regae.study import figures
from regae.study.cnn import classifier, predict
from regae.study.runner import StudyContext, encode, one_per_class
from regae.study.specs import MANIFOLD
from regae.study.writer import figure, table

KEY = "study_manifold"
SCALES = (0.1, 0.5, 0.8, 500.0)


@torch.no_grad()
def decode(model, h: torch.Tensor) -> torch.Tensor:
    device = next(model.parameters()).device
    return model.decode(h.to(device)).cpu()


def run(ctx: StudyContext) -> list[Section]:
    x_test, y_test = ctx.test_set()
    model = ctx.fit("manifold AE 784-64-8-64-784", **MANIFOLD).model
    cnn = classifier(ctx)
    h = encode(model, x_test)  # (N, 8)
    gen = torch.Generator().manual_seed(ctx.seed + 7)
    clean = decode(model, h)
    p_clean = predict(cnn, clean)
    metrics = {"budget": ctx.budget.describe(), "code_std_per_dim": h.std(0).tolist(),
               "code_std_mean": float(h.std(0).mean()),
               "clean": {"cnn_keeps_label": float((p_clean.argmax(1) == y_test).float().mean()),
                         "cnn_confidence": float(p_clean.max(1).values.mean())},
               "scales": {}}
    idx = one_per_class(y_test)
    rows_img = [("original", x_test[idx]), ("decoded h", clean[idx])]
    rows = [["0 (no noise)", metrics["clean"]["cnn_keeps_label"], metrics["clean"]["cnn_confidence"], 0.0]]
    for s in SCALES:
        noisy_h = h + s * torch.randn(h.shape, generator=gen)
        out = decode(model, noisy_h)
        p = predict(cnn, out)
        m = {"cnn_keeps_label": float((p.argmax(1) == y_test).float().mean()),
             "cnn_confidence": float(p.max(1).values.mean()),
             "saturated_pixels": float(((out < 0.01) | (out > 0.99)).float().mean()),
             "scale_over_code_std": s / metrics["code_std_mean"]}
        metrics["scales"][str(s)] = m
        rows.append([f"{s:g}", m["cnn_keeps_label"], m["cnn_confidence"], m["scale_over_code_std"]])
        rows_img.append((f"h + {s:g}·ε", out[idx]))
    grid_path, grid_rel = ctx.figure_path(KEY, "latent-noise.png")
    figures.image_rows(grid_path, rows_img, title="Gaussian noise of growing scale added to the 8-d code, then decoded")
    md = "\n\n".join([
        "A deep AE 784-64-**8**-64-784 (ReLU, linear 8-d code, sigmoid output, MSE, Adam 1e-3). Test codes get "
        f"gaussian noise s·ε, s ∈ {{{', '.join(f'{s:g}' for s in SCALES)}}}, and are decoded. The clean-trained "
        "CNN of the classifier section judges whether the result is still the same digit.",
        f"Budget: {ctx.budget.describe()}. The code's std per dimension is {metrics['code_std_mean']:.2f} on average, "
        "the natural unit of s.",
        table(["noise scale s", "CNN keeps the label", "CNN confidence", "s / code std"], rows),
        "Measured: with s = {lo:g} the CNN still reads {keep_lo:.0%} of the decoded images as the original digit; "
        "with s = {hi:g} only {keep_hi:.0%} (chance is 10 %), and {sat:.0%} of the pixels are saturated (< 0.01 or "
        "> 0.99): far off the manifold the decoder saturates and draws black-and-white blots that are not "
        "digits.".format(lo=SCALES[0], keep_lo=metrics["scales"][str(SCALES[0])]["cnn_keeps_label"], hi=SCALES[-1],
                        keep_hi=metrics["scales"][str(SCALES[-1])]["cnn_keeps_label"],
                        sat=metrics["scales"][str(SCALES[-1])]["saturated_pixels"]),
        figure(grid_rel, "decoded noisy codes"),
    ])
    return [Section(KEY, "Noise in an 8-d code: what stays a digit", md, metrics, [grid_rel])]

"""Experiment 7: the 8-d code of a deep AE, perturbed by gaussian noise and decoded.

For test codes h (N, 8) and scale s, the decoded ĥ = D(h + s·ε), ε ~ N(0, I_8). Small s
stays on the learned digit manifold (the same digit, slightly changed); large s leaves
it. "Still a digit" is measured by the study's clean-trained CNN: the fraction of decoded
images it assigns the original label, and its mean top-class probability (confidence).
"""

from __future__ import annotations

import torch

from regae.model.inference import encode
from regae.reports import stats
from regae.reports.section import Section
from regae.reports.tables import image, number_table
from regae.study import curves, figures
from regae.study.compare import N_BOOT, accuracy_text, compare_accuracy, pm, seeds_mean, short
from regae.study.experiments.cnn import classifier, predict
from regae.study.runner import StudyContext, one_per_class
from regae.study.specs import MANIFOLD

KEY = "study_manifold"
SCALES = (0.1, 0.5, 0.8, 2.0, 5.0, 500.0)
NAME = "784-64-8-64-784"


@torch.no_grad()
def decode(model, h: torch.Tensor) -> torch.Tensor:
    device = next(model.parameters()).device
    return model.decode(h.to(device)).cpu()


def run(ctx: StudyContext) -> list[Section]:
    x_test, y_test = ctx.test_set()
    runs = ctx.fit_seeds(NAME, "manifold", **MANIFOLD)
    cnn = classifier(ctx)
    gen = torch.Generator().manual_seed(ctx.seed + 7)
    codes = [encode(r.model, x_test) for r in runs]  # each (N, 8)
    code_std = float(torch.stack([h.std(0) for h in codes]).mean())
    decoded = {0.0: [decode(r.model, h) for r, h in zip(runs, codes)]}
    for s in SCALES:
        decoded[s] = [decode(r.model, h + s * torch.randn(h.shape, generator=gen)) for r, h in zip(runs, codes)]
    metrics = {"code_std_per_dim": codes[0].std(0).tolist(), "code_std_mean": code_std, "scales": {}}
    correct = {}
    rows = []
    for s, outs in decoded.items():
        probs = [predict(cnn, out) for out in outs]
        correct[s] = [(p.argmax(1) == y_test).numpy() for p in probs]
        m = {"cnn_keeps_label": stats.accuracy_summary(correct[s], n_boot=N_BOOT, seed=ctx.seed),
             "cnn_confidence": seeds_mean([float(p.max(1).values.mean()) for p in probs]),
             "saturated_pixels": seeds_mean([float(((o < 0.01) | (o > 0.99)).float().mean()) for o in outs]),
             "scale_over_code_std": s / code_std}
        if s > 0:
            m["vs_no_noise"] = compare_accuracy(f"s = {s:g}", correct[s], "no noise", correct[0.0], seed=ctx.seed)
        metrics["scales"][str(s)] = m
        rows.append([f"{s:g}" if s else "0 (no noise)", accuracy_text(m["cnn_keeps_label"]), pm(m["cnn_confidence"], 3),
                     f"{m['scale_over_code_std']:.3f}", short(m["vs_no_noise"]) if s > 0 else "—"])
    metrics["training"] = curves.records({NAME: runs})
    idx = one_per_class(y_test)
    rows_img = [("original", x_test[idx]), ("decoded h", decoded[0.0][0][idx])]
    rows_img += [(f"h + {s:g}·ε", decoded[s][0][idx]) for s in SCALES]
    grid_path, grid_rel = ctx.figure_path(KEY, "latent-noise.png")
    figures.image_rows(grid_path, rows_img, title="Gaussian noise of growing scale added to the 8-d code, then decoded")
    learn_md, learn_rel = curves.section_block(ctx, KEY, {NAME: runs}, "8-d AE")
    keep = {s: metrics["scales"][str(s)]["cnn_keeps_label"]["accuracy"] for s in SCALES}
    md = "\n\n".join([
        f"A deep AE {NAME} (ReLU, linear 8-d code, sigmoid output, MSE). Test codes get gaussian noise s·ε, "
        f"s ∈ {{{', '.join(f'{s:g}' for s in SCALES)}}}, and are decoded. The clean-trained CNN of the classifier "
        "section judges whether the result is still the same digit (accuracy with its 95 % interval; each scale "
        "against no noise by McNemar's exact test on the same test images, or the paired bootstrap with several "
        "seeds).",
        ctx.budget_text("manifold") + f" The code's std per dimension is {code_std:.2f} on average, the natural unit "
        "of s.",
        number_table(["noise scale s", "CNN keeps the label [95 % CI]", "CNN confidence", "s / code std", "vs no noise"], rows),
        "Measured: with s = {lo:g} the CNN still reads {keep_lo:.0%} of the decoded images as the original digit; "
        "with s = {hi:g} only {keep_hi:.0%} (chance is 10 %), and {sat:.0%} of the pixels are saturated (< 0.01 or "
        "> 0.99): far off the manifold the decoder saturates and draws black-and-white blots that are not "
        "digits.".format(lo=SCALES[0], keep_lo=keep[SCALES[0]], hi=SCALES[-1], keep_hi=keep[SCALES[-1]],
                        sat=metrics["scales"][str(SCALES[-1])]["saturated_pixels"]["mean"]),
        image(grid_rel, "decoded noisy codes"),
        learn_md,
    ])
    return [Section(KEY, "Noise in an 8-d code: what stays a digit", md, metrics, [grid_rel, learn_rel])]

"""Experiment 8: the 8/16/16 conv AE with three decoders.

``unpool``: MaxUnpool2d with the encoder's pool indices + 3x3 conv; ``deconv``: transposed
convolutions, no indices; ``both``: unpooling with indices + 3x3 transposed conv. Same
encoder, same data order, same seeds. Loss curves per iteration (training loss of every
step) and per epoch (mean training loss and validation PSNR); every pair of decoders
compared on the same test images by the paired bootstrap of the PSNR difference.
"""

from __future__ import annotations

import numpy as np

from regae.model.inference import reconstruct
from regae.reports.section import Section
from regae.reports.tables import image, number_table
from regae.study import curves, figures
from regae.study.compare import compare_psnr, image_errors, pm, seeds_psnr
from regae.study.runner import StudyContext, one_per_class
from regae.study.specs import conv

KEY = "study_conv"
DECODERS = ("unpool", "deconv", "both")
PAIRS = (("unpool", "deconv"), ("both", "deconv"), ("both", "unpool"))


def moving_average(values: list[float], window: int) -> list[float]:
    """Trailing mean over up to ``window`` values: out[i] = mean(values[max(0, i-w+1) : i+1])."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def run(ctx: StudyContext) -> list[Section]:
    x_test, y_test = ctx.test_set()
    metrics = {"budget": ctx.budget("conv").describe(), "decoders": {}, "pairs": {}}
    per_iter, recons, groups, errs, rows = {}, {}, {}, {}, []
    for dec in DECODERS:
        runs = groups[dec] = ctx.fit_seeds(f"conv AE, {dec} decoder", "conv", **conv(dec))
        model = runs[0].model
        steps, losses = zip(*model.loss_history) if model.loss_history else ((), ())
        window = max(1, len(losses) // 50)
        per_iter[dec] = (steps, moving_average(list(losses), window))
        x_hats = [reconstruct(r.model, x_test) for r in runs]
        recons[dec] = x_hats[0]
        errs[dec] = np.stack([image_errors(x, x_test) for x in x_hats])  # (seeds, N)
        m = {"test_psnr": seeds_psnr(errs[dec]), "parameters": sum(p.numel() for p in model.parameters())}
        metrics["decoders"][dec] = m
        rows.append([dec, m["parameters"], pm(m["test_psnr"]), f"{runs[0].train_loss[-1]:.4f}",
                     f"{runs[0].val_loss[-1]:.4f}"])
    for a, b in PAIRS:
        metrics["pairs"][f"{a} - {b}"] = compare_psnr(a, errs[a], b, errs[b], seed=ctx.seed)
    metrics["training"] = curves.records(groups)
    iter_path, iter_rel = ctx.figure_path(KEY, "loss-per-iteration.png")
    figures.curves(iter_path, per_iter, "training step", "training BCE (moving average)",
                   "Loss per iteration (first seed)", logy=True)
    learn_md, learn_rel = curves.section_block(ctx, KEY, groups, "Conv AE decoders")
    idx = one_per_class(y_test)
    grid_path, grid_rel = ctx.figure_path(KEY, "reconstructions.png")
    figures.image_rows(grid_path, [("original", x_test[idx])] + [(d, recons[d][idx]) for d in DECODERS],
                       title="Reconstructions by decoder (first seed)")
    pairs = metrics["pairs"]
    md = "\n\n".join([
        "Encoder: 3x3 convs with 8, 16, 16 channels, each + ReLU + 2x2 max-pool (28 → 14 → 7 → 3), code = the "
        "16x3x3 map (144 values). Decoders: **unpool** (MaxUnpool2d with the encoder's indices + 3x3 conv), "
        "**deconv** (ConvTranspose2d upsampling), **both** (unpool with indices + 3x3 transposed conv). Binary "
        "cross-entropy (with MSE this sigmoid-output net collapses to an all-black output in its first steps). "
        "The literature's expectation (Zeiler & Fergus 2014; Zhao et al. 2016, stacked what-where AEs; Zhang et al. "
        "2016): passing the encoder's pooling switches (\"where\") to an unpooling decoder helps it put each value in "
        "place, where a transposed convolution has to learn that; the paired test below checks it on this net.",
        ctx.budget_text("conv") + f" Validation on {ctx.level.val_images:,} held-out training images.",
        number_table(["decoder", "parameters", "test PSNR (dB)", "last-epoch train BCE (seed 1)",
               "last-epoch val BCE (seed 1)"], rows),
        "Paired bootstrap over the test images: " + "; ".join(pairs[f"{a} - {b}"]["verdict"] for a, b in PAIRS) + ".",
        learn_md,
        image(iter_rel, "loss per iteration"),
        image(grid_rel, "reconstructions"),
    ])
    return [Section(KEY, "Conv decoders: unpooling vs transposed convolution", md, metrics,
                    [learn_rel, iter_rel, grid_rel])]

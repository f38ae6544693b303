"""Experiment 8: the 8/16/16 conv AE with three decoders.

``unpool``: MaxUnpool2d with the encoder's pool indices + 3x3 conv; ``deconv``: transposed
convolutions, no indices; ``both``: unpooling with indices + 3x3 transposed conv. Same
encoder, same data order, same seed. Loss curves per iteration (training loss of every
step) and per epoch (mean training loss and validation loss; BCE).
"""

from __future__ import annotations

from regae.analysis.section import Section
from regae.study import figures
from regae.study.runner import StudyContext, one_per_class, psnr, reconstruct
from regae.study.specs import conv
from regae.study.writer import figure, table

KEY = "study_conv"
DECODERS = ("unpool", "deconv", "both")


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
    budget = ctx.budget.scaled(images=0.5, epochs=0.67)
    x_test, y_test = ctx.test_set()
    metrics = {"budget": budget.describe(), "decoders": {}}
    per_iter, per_epoch, recons, rows = {}, {}, {}, []
    for dec in DECODERS:
        trained = ctx.fit(f"conv AE, {dec} decoder", budget=budget, validate=True, **conv(dec))
        model = trained.model
        steps, losses = zip(*model.loss_history) if model.loss_history else ((), ())
        window = max(1, len(losses) // 20)
        per_iter[dec] = (steps, moving_average(list(losses), window))
        epochs = list(range(1, len(trained.epochs.train) + 1))
        per_epoch[f"{dec} train"] = (epochs, trained.epochs.train)
        per_epoch[f"{dec} val"] = (epochs[: len(trained.epochs.val)], trained.epochs.val)
        recons[dec] = reconstruct(model, x_test)
        m = {"test_psnr": psnr(recons[dec], x_test), "parameters": sum(p.numel() for p in model.parameters()),
             "train_seconds": trained.seconds, "train_steps": trained.steps,
             "train_loss_per_epoch": trained.epochs.train, "val_loss_per_epoch": trained.epochs.val}
        metrics["decoders"][dec] = m
        rows.append([dec, m["parameters"], m["test_psnr"], trained.epochs.train[-1],
                     trained.epochs.val[-1] if trained.epochs.val else float("nan"), m["train_seconds"]])
    iter_path, iter_rel = ctx.figure_path(KEY, "loss-per-iteration.png")
    figures.curves(iter_path, per_iter, "training step", "training BCE (moving average)",
                   "Loss per iteration", logy=True)
    epoch_path, epoch_rel = ctx.figure_path(KEY, "loss-per-epoch.png")
    figures.curves(epoch_path, per_epoch, "epoch", "BCE", "Loss per epoch (train mean, validation)", logy=True,
                   markers=True, integer_x=True)
    idx = one_per_class(y_test)
    grid_path, grid_rel = ctx.figure_path(KEY, "reconstructions.png")
    figures.image_rows(grid_path, [("original", x_test[idx])] + [(d, recons[d][idx]) for d in DECODERS],
                       title="Reconstructions by decoder")
    best = max(DECODERS, key=lambda d: metrics["decoders"][d]["test_psnr"])
    md = "\n\n".join([
        "Encoder: 3x3 convs with 8, 16, 16 channels, each + ReLU + 2x2 max-pool (28 → 14 → 7 → 3), code = the "
        "16x3x3 map (144 values). Decoders: **unpool** (MaxUnpool2d with the encoder's indices + 3x3 conv), "
        "**deconv** (ConvTranspose2d upsampling), **both** (unpool with indices + 3x3 transposed conv). Binary cross-entropy "
        "(with MSE this sigmoid-output net collapses to an all-black output in its first steps), Adam 1e-3.",
        f"Budget per model: {budget.describe()}; validation on {ctx.budget.test_images:,} held-out training images.",
        table(["decoder", "parameters", "test PSNR (dB)", "last-epoch train BCE", "last-epoch val BCE", "train s"], rows),
        f"Measured: **{best}** reconstructs best with this budget. Unpooling with the encoder's indices puts each "
        "value back where its maximum was, for free; a transposed convolution has to learn where to put it "
        "(with more parameters to do so).",
        figure(iter_rel, "loss per iteration"),
        figure(epoch_rel, "loss per epoch"),
        figure(grid_rel, "reconstructions"),
    ])
    return [Section(KEY, "Conv decoders: unpooling vs transposed convolution", md, metrics,
                    [iter_rel, epoch_rel, grid_rel])]

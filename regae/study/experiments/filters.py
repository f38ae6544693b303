"""Experiment 4: what the weights and hidden units of shallow AEs look like.

For 784-h-784 the encoder's first layer W_e (h, 784) holds one 28x28 filter per hidden unit
and the decoder W_d (784, h) one 28x28 "atom" per unit (column j is what unit j adds to
the output before the sigmoid).
"""

from __future__ import annotations

import torch

from regae.model.inference import encode
from regae.reports.section import Section
from regae.reports.tables import image, number_table
from regae.study import figures
from regae.study.runner import StudyContext
from regae.study.specs import SHALLOW_BCE, shallow

KEY = "study_filters"
HIDDEN = 64


def first_linear(module: torch.nn.Module) -> torch.nn.Linear:
    return next(m for m in module.modules() if isinstance(m, torch.nn.Linear))


def last_linear(module: torch.nn.Module) -> torch.nn.Linear:
    return [m for m in module.modules() if isinstance(m, torch.nn.Linear)][-1]


def run(ctx: StudyContext) -> list[Section]:
    x_test, _ = ctx.test_set()
    relu = ctx.fit(f"784-{HIDDEN}-784 ReLU, MSE", "shallow", **shallow(HIDDEN)).model
    sig = ctx.fit("784-32-784 sigmoid, BCE", "shallow", **SHALLOW_BCE).model
    enc_w = first_linear(relu.net.encoder).weight.detach().cpu()  # (h, 784)
    dec_w = last_linear(relu.net.decoder).weight.detach().cpu().T  # (h, 784): column j of W_d as row j
    sig_w = first_linear(sig.net.encoder).weight.detach().cpu()  # (32, 784)
    enc_path, enc_rel = ctx.figure_path(KEY, "encoder-filters.png")
    figures.tiles(enc_path, enc_w, f"Encoder filters of 784-{HIDDEN}-784 (ReLU): rows of W_e, red > 0 > blue", ncols=8)
    dec_path, dec_rel = ctx.figure_path(KEY, "decoder-weights.png")
    figures.tiles(dec_path, dec_w, f"Decoder weights of 784-{HIDDEN}-784: columns of W_d as 28x28", ncols=8)
    sig_path, sig_rel = ctx.figure_path(KEY, "encoder-filters-sigmoid.png")
    figures.tiles(sig_path, sig_w, "Encoder filters of 784-32-784 (sigmoid, BCE)", ncols=8)
    h_relu = encode(relu, x_test)  # (N, 64)
    h_sig = encode(sig, x_test)  # (N, 32)
    hist_path, hist_rel = ctx.figure_path(KEY, "activation-histogram.png")
    figures.histograms(hist_path, {f"784-{HIDDEN}-784 ReLU": h_relu, "784-32-784 sigmoid": h_sig},
                       "hidden activation", "Hidden activations on the test set (all units, all images)")
    w0 = first_linear(ctx.initial_model(**shallow(HIDDEN)).net.encoder).weight.detach()
    moved = float((enc_w - w0).norm() / w0.norm())
    stats = {}
    for name, h in ((f"relu{HIDDEN}", h_relu), ("sigmoid32", h_sig)):
        stats[name] = {"mean": float(h.mean()), "std": float(h.std()), "fraction_below_0.01": float((h < 0.01).float().mean()),
                       "fraction_above_0.99": float((h > 0.99).float().mean()),
                       "dead_units": int((h.max(0).values <= 0).sum())}
    metrics = {"budget": ctx.budget("shallow").describe(),
               "activations": stats,
               "encoder_weight_norm_mean": float(enc_w.norm(dim=1).mean()),
               "encoder_relative_change_from_init": moved,
               "decoder_weight_norm_mean": float(dec_w.norm(dim=1).mean())}
    md = "\n\n".join([
        f"The one-hidden-layer AEs of the code-size sweep: 784-{HIDDEN}-784 (ReLU code, MSE) and 784-32-784 "
        f"(sigmoid code, BCE), first seed; their learning curves are in the previous section. "
        f"{ctx.budget_text('shallow')} Each tile is scaled to its own ±max|w|.",
        image(enc_rel, "encoder filters"),
        image(dec_rel, "decoder weights"),
        image(sig_rel, "encoder filters of the sigmoid AE"),
        f"The encoder weights moved by ‖W_e − W_e(init)‖ / ‖W_e(init)‖ = {moved:.2f} from their random start: "
        "where this is small the filters are still mostly speckle; with longer training they become localized "
        "stroke and blob detectors, and the decoder columns digit parts.",
        number_table(["code", "mean", "std", "fraction < 0.01", "fraction > 0.99", "dead units (never > 0)"],
              [[k, v["mean"], v["std"], v["fraction_below_0.01"], v["fraction_above_0.99"], v["dead_units"]]
               for k, v in stats.items()]),
        image(hist_rel, "hidden activation histograms"),
    ])
    return [Section(KEY, "Filters, decoder weights and hidden activations", md, metrics,
                    [enc_rel, dec_rel, sig_rel, hist_rel])]

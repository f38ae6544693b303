"""Experiment: the sparsity frontier, the curve sparse-autoencoder papers judge codes by.

One net (784-1000-784, Makhzani & Frey's), one budget, five ways to make its code sparse. KL to
ρ = 0.05 (sigmoid code), L1 on the code (ReLU) and decoder-norm L1 (ReLU,
:mod:`regae.regularizers.decoder_l1`) are swept over their weight (:data:`SWEPT`); TopK and
BatchTopK are then trained at K = the mean L0 each L1 weight reached, so every TopK point has an
L1 point at the same L0. Every point is trained with the recipe's seeds. On the test images each
model gives its L0 and FVU (:func:`regae.analysis.health.code_health`) and the accuracy of a
logistic regression on its codes (fitted on training codes). Two figures: L0 against FVU, L0
against accuracy.

The claim "TopK is a Pareto improvement over L1" (EleutherAI's sparsify README) is tested at
matched L0: each TopK point against the L1 point of the nearest mean L0 (within ±25 %), on the
same test images, FVU by the paired bootstrap of the per-image squared error, accuracy by the
paired test of correctness; the section says at how many points TopK is better on both, with p.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from regae.analysis.health import code_health
from regae.analysis.probe import CLASSIFIERS
from regae.model.inference import run as run_pass
from regae.reports.section import Section
from regae.reports.tables import md_table
from regae.study import curves, figures
from regae.study.budgets import Recipe
from regae.study.compare import compare_accuracy, compare_means, short
from regae.study.runner import StudyContext

KEY = "study_sparsity-frontier"
NET: dict[str, Any] = dict(arch="mlp", widths=[], latent_dim=1000)
RECIPE = Recipe("frontier", epochs=(1, 10, 20), batch_size=128, lr=1e-3, seeds=(1, 3, 3), images=20_000, evidence=(
    "18 points x 3 seeds of a 1.6M-parameter net (about 50 s each on a loaded CPU thread) fit the default level's "
    "CPU hour on 20,000 images; "
    "the L0 each weight reaches moves with training, which is why TopK's K is taken from the trained L1 points."))
PROBE_TRAIN = 10_000  # training codes the logistic regression is fitted on
MATCH = 0.25  # L0 within ±25 % counts as matched


def _kl(w: float) -> dict:
    return {"latent_activation": "sigmoid", "regularizers": [{"name": "kl", "weight": w, "rho": 0.05}]}


def _l1(w: float) -> dict:
    return {"latent_activation": "relu", "regularizers": [{"name": "l1", "weight": w}]}


def _dnl1(w: float) -> dict:
    return {"latent_activation": "relu", "regularizers": [{"name": "l1_decoder_norm", "weight": w}]}


#: method -> weights swept (a 2-epoch pilot on 20,000 images put L1 at L0 158 / 52 for 1e-4 / 3e-4,
#: decoder-norm L1 at 204 / 43 for 3e-4 / 1e-3, KL at 19 for 3e-4; 3e-3 silenced every unit of all three)
SWEPT: dict[str, tuple[tuple[float, ...], Any]] = {
    "KL": ((3e-5, 1e-4, 3e-4), _kl),
    "L1": ((1e-4, 2e-4, 4e-4), _l1),
    "decoder-norm L1": ((3e-4, 6e-4, 1e-3), _dnl1),
}
#: AuxK as sparsify trains TopK (Gao et al. 2024: weight 1/32, k_aux 256); a unit is dead after a window of
#: about one epoch of the default level (20,000 images / batch 128 = 157 steps), since the run has only 10
AUXK = {"name": "auxk", "weight": 1 / 32, "k_aux": 256, "window": 150}
#: method -> model options at K; trained at the L0s the L1 points reached
MATCHED: dict[str, Any] = {
    "TopK": lambda k: {"latent_activation": f"topk:{k}"},
    "TopK + AuxK": lambda k: {"latent_activation": f"topk:{k}", "regularizers": [AUXK]},
    "BatchTopK": lambda k: {"latent_activation": f"batch_topk:{k}"},
}
METHODS = (*SWEPT, *MATCHED)
INTRO = (
    "Sparse-autoencoder papers judge a sparse code by two numbers against each other: L0, the mean number of active "
    "units per image, and the fraction of variance unexplained, FVU = Σ‖x − x̂‖² / Σ‖x − x̄‖². One net, 784-1000-784 "
    "(Makhzani & Frey's k-sparse AE), one budget, five ways to make its code sparse: KL to ρ = 0.05 on a sigmoid "
    "code, L1 on a ReLU code, and L1 weighted by each unit's decoder norm (Σ_j |h_j|·‖W_dec,j‖, which shrinking the "
    "code while growing the decoder cannot cheat), each swept over its weight; then TopK (with and without the AuxK "
    "loss that revives dead units) and BatchTopK, trained at K = the mean L0 each L1 weight reached, so that every "
    "TopK point has an L1 point at the same L0. Accuracy is a logistic regression on the codes. Active means h > 0 "
    "for the ReLU and TopK codes and h > 1/2 for the sigmoid one, so the KL points' L0 counts a different event; "
    "a unit is dead when it is never active on the test images."
)

def evaluate(model, kind: str, x_test: torch.Tensor, y_test: torch.Tensor, x_train: torch.Tensor,
             y_train: torch.Tensor, seed: int) -> dict[str, Any]:
    """L0, FVU (health) and per-image squared error and correctness of one model."""
    test, train = run_pass(model, x_test), run_pass(model, x_train, decode=False)
    health = code_health(test.codes, test.sq_err.numpy(), x_test, kind, seed)
    clf = CLASSIFIERS["logistic regression"](seed).fit(train.codes.numpy(), y_train.numpy())
    correct = clf.predict(test.codes.numpy()) == y_test.numpy()
    return {"l0": health["l0"]["mean"], "fvu": health["fvu"]["estimate"], "dead": health["dead_fraction"],
            "accuracy": float(correct.mean()), "sq_err": test.sq_err.numpy(), "correct": correct}


def run(ctx: StudyContext) -> list[Section]:
    x_test, y_test = ctx.test_set()
    x_all, y_all = ctx.train_set(RECIPE)
    n = min(PROBE_TRAIN, len(x_all))
    x_train, y_train = x_all[:n], y_all[:n]
    var = (x_test - x_test.mean(0)).pow(2).flatten(1).mean(1).double().numpy()  # (N,) for FVU differences
    points: dict[str, list[dict]] = {}
    groups: dict[str, list] = {}

    def train(method: str, knob: str, value: float, spec: dict) -> None:
        label = f"{method} {knob}={value:g}"
        runs = ctx.fit_seeds(f"784-1000-784 {label}", RECIPE, **NET, **spec)
        groups[label] = runs
        per_seed = [evaluate(r.model, spec["latent_activation"], x_test, y_test, x_train, y_train, ctx.seed)
                    for r in runs]
        points.setdefault(method, []).append({"knob": knob, "value": value, "label": label, "seeds": per_seed})

    for method, (weights, spec) in SWEPT.items():
        for w in weights if ctx.level.name != "tiny" else weights[:2]:
            train(method, "weight", w, spec(w))
    ks = sorted({max(1, round(_mean(p, "l0"))) for p in points["L1"]})
    for method, spec in MATCHED.items():
        for k in ks:
            train(method, "K", k, spec(k))
    return [frontier_section(ctx, points, var, groups, n)]


def _mean(point: dict, key: str) -> float:
    return float(np.mean([s[key] for s in point["seeds"]]))


def pareto(points: dict[str, list[dict]], var: np.ndarray, seed: int = 0, method: str = "TopK") -> list[dict]:
    """Each ``method`` point against the L1 point of the nearest L0 (within :data:`MATCH`): FVU and accuracy."""
    out = []
    for top in points.get(method, []):
        l0 = _mean(top, "l0")
        l1 = min(points.get("L1", []), key=lambda p: abs(_mean(p, "l0") - l0), default=None)
        if l1 is None or abs(_mean(l1, "l0") - l0) > MATCH * l0:
            out.append({"method": method, "topk": top["label"], "l1": None, "l0_topk": l0, "matched": False})
            continue
        err_t = np.stack([s["sq_err"] for s in top["seeds"]]) / var.mean()
        err_l = np.stack([s["sq_err"] for s in l1["seeds"]]) / var.mean()
        fvu = compare_means(top["label"], err_t, l1["label"], err_l, "FVU", higher_is_better=False, seed=seed, digits=4)
        acc = compare_accuracy(top["label"], [s["correct"] for s in top["seeds"]], l1["label"],
                               [s["correct"] for s in l1["seeds"]], seed=seed)
        better = fvu["estimate"] < 0 and fvu["p"] < 0.05 and acc["diff_points"] > 0 and acc["p"] < 0.05
        worse = fvu["estimate"] > 0 and fvu["p"] < 0.05 or acc["diff_points"] < 0 and acc["p"] < 0.05
        out.append({"method": method, "topk": top["label"], "l1": l1["label"], "l0_topk": l0, "l0_l1": _mean(l1, "l0"), "matched": True,
                    "fvu": fvu, "accuracy": acc, "pareto_better": better, "worse_on_one": worse})
    return out


def frontier_section(ctx: StudyContext, points: dict[str, list[dict]], var: np.ndarray, groups: dict,
                     probe_images: int) -> Section:
    path_fvu, rel_fvu = ctx.figure_path(KEY, "l0-fvu.png")
    path_acc, rel_acc = ctx.figure_path(KEY, "l0-accuracy.png")
    series = {m: ([_mean(p, "l0") for p in ps], [_mean(p, "fvu") for p in ps]) for m, ps in points.items()}
    figures.curves(path_fvu, series, "L0 (active units per test image)", "FVU (test)", "The sparsity frontier: L0 vs FVU",
                   markers=True)
    series = {m: ([_mean(p, "l0") for p in ps], [100 * _mean(p, "accuracy") for p in ps]) for m, ps in points.items()}
    figures.curves(path_acc, series, "L0 (active units per test image)", "logistic regression on the codes (%)",
                   "The sparsity frontier: L0 vs accuracy", markers=True)
    rows = [[m, f"{p['knob']} = {p['value']:g}", f"{_mean(p, 'l0'):.1f}", f"{_mean(p, 'fvu'):.4f}",
             f"{100 * _mean(p, 'accuracy'):.2f} %", f"{100 * _mean(p, 'dead'):.1f} %", len(p["seeds"])]
            for m, ps in points.items() for p in ps]
    matched = [c for m in ("TopK", "TopK + AuxK") for c in pareto(points, var, ctx.seed, m)]
    curves_md, rel_curves = curves.section_block(ctx, KEY, groups, "Sparsity frontier")
    cmp_rows = [[c["topk"], c["l1"] or "none within ±25 %", f"{c['l0_topk']:.1f}"
                 + (f" / {c['l0_l1']:.1f}" if c["matched"] else ""),
                 short(c["fvu"]) if c["matched"] else "—", short(c["accuracy"]) if c["matched"] else "—",
                 ("**yes**" if c["pareto_better"] else "no") if c["matched"] else "—"] for c in matched]
    verdict = " ".join(_verdict(m, [c for c in matched if c["method"] == m]) for m in ("TopK", "TopK + AuxK"))
    dead = {m: [100 * _mean(p, "dead") for p in points.get(m, [])] for m in ("L1", "TopK", "TopK + AuxK")}
    text = (INTRO + f"\n\n![L0 vs FVU]({rel_fvu.as_posix()})\n\n![L0 vs accuracy]({rel_acc.as_posix()})\n\n"
            + md_table(["method", "knob", "L0", "FVU", "accuracy (logistic regression)", "dead units", "seeds"], rows)
            + f"\n\nMean over seeds; L0, FVU and dead units on the {len(var):,} test images as the report's code-health "
            f"section defines them; accuracy of a logistic regression fitted on {probe_images:,} training codes.\n\n"
            "**Is TopK a Pareto improvement over L1 here?** " + verdict + _dead_text(dead) + "\n\n"
            + md_table(["TopK point", "L1 point at the nearest L0", "L0 (TopK / L1)", "FVU: TopK vs L1",
                        "accuracy: TopK vs L1", "better on both"], cmp_rows)
            + "\n\n" + curves_md + "\n\n" + ctx.budget_text(RECIPE))
    metrics = {"points": {m: [{k: v for k, v in p.items() if k != "seeds"} | {
        "l0": _mean(p, "l0"), "fvu": _mean(p, "fvu"), "accuracy": _mean(p, "accuracy"), "dead": _mean(p, "dead"),
        "per_seed": [{k: s[k] for k in ("l0", "fvu", "accuracy", "dead")} for s in p["seeds"]]} for p in ps]
        for m, ps in points.items()},
        "pareto_topk_vs_l1": matched, "verdict": verdict, "training": curves.records(groups)}
    return Section(KEY, "The sparsity frontier: L0 against FVU and accuracy", text, metrics, [rel_fvu, rel_acc, rel_curves])


def _verdict(method: str, compared: list[dict]) -> str:
    """One sentence on ``method`` against L1 at matched L0, from :func:`pareto`'s rows."""
    tested = [c for c in compared if c["matched"]]
    if not tested:
        return f"{method}: not tested here, no point had an L1 point within ±25 % of its L0."
    return (f"{method}: better than L1 on both FVU and accuracy (p < 0.05) at {sum(c['pareto_better'] for c in tested)} "
            f"of {len(tested)} matched points, significantly worse on at least one of the two at "
            f"{sum(c['worse_on_one'] for c in tested)}.")


def _dead_text(dead: dict[str, list[float]]) -> str:
    """Dead units, the measured reason a TopK code falls behind, as one sentence."""
    parts = [f"{m} {min(v):.0f}–{max(v):.0f} %" for m, v in dead.items() if v]
    return f" Dead units across the matched points: {', '.join(parts)}." if len(parts) > 1 else ""

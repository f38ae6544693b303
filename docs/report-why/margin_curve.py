"""The sparse AE's classification margin over the pixel baselines, epoch by epoch.

    python docs/report-why/margin_curve.py runs/curve/sparse/checkpoints docs/report-why/margin_curve

reads every ``epochNNN-*.ckpt`` of one training run (made with ``regae fit --config sparse
--checkpoint.save_top_k -1 --checkpoint.every_n_epochs 1``), fits the report's two classifiers
(:mod:`regae.analysis.probe`: logistic regression on standardised features, 5-NN) on the codes of all
60,000 training images and scores them on the 10,000 test images, and compares each epoch's code with
raw pixels and PCA-32 on the same test images (:func:`regae.reports.stats.compare_correct`: the
difference in points, its paired 95 % interval, the exact McNemar p). Writes ``OUT.csv``
(one row per epoch and comparison) and ``OUT.png``.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from regae.analysis.probe import PIXELS, pca_features, pca_name, pixels, predict  # noqa: E402
from regae.checkpoints.read import load, load_data  # noqa: E402
from regae.model.inference import (
    encode,  # noqa: E402
    test_psnr,  # noqa: E402
)
from regae.reports.stats import compare_correct  # noqa: E402

BASELINES = (PIXELS, pca_name(32))


def main(folder: Path, out: Path) -> None:
    ckpts = sorted(folder.glob("epoch*.ckpt"), key=lambda p: int(re.match(r"epoch(\d+)", p.name)[1]))
    data = load_data(load(ckpts[0]))
    tr_img, tr_y = data.train.images, data.train.labels.numpy()
    te_img, te_y = data.test.images, data.test.labels.numpy()
    pix_tr, pix_te = pixels(tr_img), pixels(te_img)
    pca_tr, pca_te = pca_features(pix_tr, pix_te, 32)
    base = {PIXELS: predict(pix_tr, tr_y, pix_te), pca_name(32): predict(pca_tr, tr_y, pca_te)}
    rows = []
    for ckpt in ckpts:
        epoch = int(re.match(r"epoch(\d+)", ckpt.name)[1]) + 1
        model = load(ckpt)
        psnr = test_psnr(model, te_img)[0]
        pred = predict(encode(model, tr_img).numpy(), tr_y, encode(model, te_img).numpy())
        for clf, p in pred.items():
            for name in BASELINES:
                c = compare_correct([p == te_y], [base[name][clf] == te_y])
                rows.append({"epoch": epoch, "test_psnr_db": round(psnr, 3), "classifier": clf, "baseline": name,
                             "ae_accuracy": float((p == te_y).mean()), "diff_points": c["diff_points"],
                             "ci_low_points": c["ci_low_points"], "ci_high_points": c["ci_high_points"], "p": c["p"]})
        print(f"epoch {epoch}: {psnr:.2f} dB, " + ", ".join(
            f"{r['classifier']} vs {r['baseline']} {r['diff_points']:+.2f} (p={r['p']:.2g})" for r in rows[-4:]),
              flush=True)
    with out.with_suffix(".csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    plot(rows, out.with_suffix(".png"))


def plot(rows: list[dict], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for ax, clf in zip(axes, ("5-NN", "logistic regression")):
        for k, (name, color) in enumerate(zip(BASELINES, ("tab:blue", "tab:orange"))):
            sel = [r for r in rows if r["classifier"] == clf and r["baseline"] == name]
            x = np.array([r["epoch"] for r in sel]) + (k - 0.5) * 0.15
            y = np.array([r["diff_points"] for r in sel])
            err = np.array([[r["diff_points"] - r["ci_low_points"] for r in sel],
                            [r["ci_high_points"] - r["diff_points"] for r in sel]])
            ax.errorbar(x, y, yerr=err, color=color, fmt="none", lw=1, alpha=0.7)
            sig = np.array([r["p"] < 0.05 for r in sel])
            ax.plot(x[sig], y[sig], "o", color=color, label=f"vs {name}, p < 0.05")
            ax.plot(x[~sig], y[~sig], "o", mfc="white", color=color, label=f"vs {name}, not significant")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(f"{clf} on the sparse AE's 32-d code")
        ax.set_xlabel("epoch (seed hyperparameters: Adam 1e-3 constant, batch 128)")
        ax.set_ylabel("AE − baseline accuracy (points, 95 % CI)")
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

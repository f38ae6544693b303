"""Classification on embeddings: how much of the digit identity a representation keeps.

Each feature set (AE codes h = E(x) of every training seed, raw pixels, PCA of the pixels with
the AE's latent size) is fitted on training images and scored on the test set with two
classifiers: a multinomial logistic regression on standardised features (linear) and a
5-nearest-neighbour vote in the raw feature space (non-linear). Accuracy = mean(ŷ == y), with a
95 % interval (:mod:`regae.reports.stats`). Every AE is compared with every other AE, with raw
pixels and with PCA of its size on the same test images: the difference in points with a paired
bootstrap interval and the p-value of a paired test (exact McNemar for one seed each).
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import Tensor
from tqdm.auto import tqdm

from regae.analysis.tsne import subset_indices
from regae.data.dataset import to_float
from regae.model.inference import encode
from regae.reports.section import Section
from regae.reports.stats import POINTS_KEYS, accuracy_summary, compare_correct, fmt_p, verdict_of
from regae.reports.tables import md_table

CLASSIFIERS = {
    "logistic regression": lambda seed: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, tol=1e-4)),
    "5-NN": lambda seed: KNeighborsClassifier(n_neighbors=5),
}
PIXELS = "raw pixels"


def predict(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Test-set predictions of every classifier in :data:`CLASSIFIERS` fitted on (train_x, train_y)."""
    return {name: make(seed).fit(train_x, train_y).predict(test_x) for name, make in CLASSIFIERS.items()}


def probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
          seed: int = 0) -> dict[str, float]:
    """Test accuracy of every classifier in :data:`CLASSIFIERS` fitted on (train_x, train_y)."""
    return {name: float((pred == test_y).mean()) for name, pred in predict(train_x, train_y, test_x, seed).items()}


def pixels(images: Tensor) -> np.ndarray:
    """The raw-pixel baseline's features: uint8 images (N, [C,] H, W) -> float32 (N, C·H·W) in [0, 1]."""
    return to_float(images).flatten(1).numpy()


def pca_features(train_x: np.ndarray, test_x: np.ndarray, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Project both sets on the top ``dim`` principal components of ``train_x``."""
    pca = PCA(n_components=dim, random_state=seed).fit(train_x)
    return pca.transform(train_x), pca.transform(test_x)


def pca_name(dim: int) -> str:
    return f"PCA-{dim} of pixels"


def fmt_acc(s: dict) -> str:
    """'97.05 % [96.71, 97.37]' or, over seeds, '97.05 ± 0.08 % [96.80, 97.30]'."""
    spread = f" ± {100 * s['std_over_seeds']:.2f}" if s["std_over_seeds"] is not None else ""
    return f"{100 * s['accuracy']:.2f}{spread} % [{100 * s['ci_low']:.2f}, {100 * s['ci_high']:.2f}]"


def comparisons(correct: dict[str, dict[str, list[np.ndarray]]], aes: list[str], pca_of: dict[str, int],
                seed: int = 0) -> list[dict]:
    """Every AE against every other AE, raw pixels and PCA of its own size (``pca_of``), per classifier."""
    pairs = [(a, b) for i, a in enumerate(aes) for b in aes[i + 1:]]
    pairs += [(a, PIXELS) for a in aes] + [(a, pca_name(pca_of[a])) for a in aes]
    out = []
    for a, b in pairs:
        for clf in CLASSIFIERS:
            c = compare_correct(correct[a][clf], correct[b][clf], seed=seed)
            c.update(a=a, b=b, classifier=clf, sentence=verdict_of(c, a, b, "points", POINTS_KEYS))
            out.append(c)
    return out


def probe_section(groups: dict[str, list], train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor],
                  n_train: int = 60000, seed: int = 0) -> Section:
    """Accuracies with intervals for every AE (all seeds) and the pixel / PCA baselines, and the paired tests."""
    idx = subset_indices(len(train[0]), n_train, seed)
    tr_img, tr_y = train[0][idx], train[1][idx].numpy()
    te_img, te_y = test[0], test[1].numpy()
    pix_tr, pix_te = pixels(tr_img), pixels(te_img)  # (n, C·H·W)
    # PCA of an AE's size, at most as many components as the training subset and the pixels allow
    pca_of = {n: min(ms[0].latent_dim, *pix_tr.shape) for n, ms in groups.items()}
    dims = sorted(set(pca_of.values()))
    jobs = [(name, k) for name, ms in groups.items() for k in range(len(ms))]
    jobs += [(PIXELS, None)] + [(pca_name(d), d) for d in dims]
    correct: dict[str, dict[str, list[np.ndarray]]] = {}
    for name, k in tqdm(jobs, desc="classifiers", unit="features"):
        if name in groups:
            model = groups[name][k]
            ftr, fte = encode(model, tr_img).numpy(), encode(model, te_img).numpy()
        elif name == PIXELS:
            ftr, fte = pix_tr, pix_te
        else:
            ftr, fte = pca_features(pix_tr, pix_te, k, seed)
        for clf, pred in predict(ftr, tr_y, fte, seed).items():
            correct.setdefault(name, {}).setdefault(clf, []).append(pred == te_y)
    summary = {n: {c: accuracy_summary(v, seed=seed) for c, v in per.items()} for n, per in correct.items()}
    dim_of = {**{n: ms[0].latent_dim for n, ms in groups.items()}, PIXELS: pix_tr.shape[1], **{pca_name(d): d for d in dims}}
    seeds_of = {n: len(groups[n]) if n in groups else 1 for n in correct}
    rows = [[n, dim_of[n], seeds_of[n]] + [fmt_acc(summary[n][c]) for c in CLASSIFIERS] for n in correct]
    cmp = comparisons(correct, list(groups), pca_of, seed)
    cmp_rows = [[f"{c['a']} vs {c['b']}", c["classifier"], f"{c['diff_points']:+.2f}",
                 f"[{c['ci_low_points']:+.2f}, {c['ci_high_points']:+.2f}]", fmt_p(c["p"], c["n_boot"]), c["test"]]
                for c in cmp]
    multi = any(len(ms) > 1 for ms in groups.values())
    n_all = len(train[0])
    fitted_on = f"all {n_all:,} training images" if len(idx) == n_all else \
        f"{len(idx):,} training images (a seed-{seed} subset of the {n_all:,})"
    text = (
        f"Classifiers fitted on the codes of {fitted_on} and "
        f"scored on all {len(te_y):,} test images; chance is about {100 / max(1, len(np.unique(te_y))):.0f} %. Logistic regression uses standardised "
        f"features; 5-NN uses the features as they are. Baselines: the raw {pix_tr.shape[1]:,} pixel values and PCA of the pixels to "
        "the AE latent size. Brackets: 95 % interval of the accuracy over test images (Wilson score interval for "
        "one seed" + ("; for several training seeds, mean ± std over seeds and a paired bootstrap interval of "
                      "the seed-averaged accuracy" if multi else "") + ").\n\n"
        + md_table(["features", "dim", "seeds"] + [f"{c} accuracy [95 % CI]" for c in CLASSIFIERS], rows)
        + "\n\n**Paired comparisons on the same test images** (difference A − B in percentage points, 95 % "
        "bootstrap interval, p of the paired test; p < 0.05 counts as a difference):\n\n"
        + md_table(["A vs B", "classifier", "A − B (points)", "95 % CI", "p", "test"], cmp_rows)
        + "\n\n" + _verdict_text(cmp, list(groups))
    )
    metrics = {"n_train": len(idx), "n_test": len(te_y), "seed": seed, "accuracy": summary, "dims": dim_of,
               "seeds": seeds_of, "comparisons": cmp}
    return Section("classification", "Classification on the embeddings", text, metrics)


def _verdict_text(cmp: list[dict], aes: list[str]) -> str:
    """'Which AE is better' per classifier (AE vs AE rows), as sentences with their uncertainty."""
    if len(aes) < 2:
        return "(One AE only: no comparison between autoencoders.)"
    lines = [f"- {c['classifier']}: {c['sentence']}." for c in cmp if c["b"] in aes]
    return "**Which AE is better for classification:**\n\n" + "\n".join(lines)

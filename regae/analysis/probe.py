"""Classification on embeddings: how much of the digit identity a representation keeps.

Each feature set (AE codes h = E(x), raw pixels, PCA of the pixels with the AE's latent
size) is fitted on training images and scored on the test set with two classifiers:
a multinomial logistic regression on standardised features (linear) and a 5-nearest-
neighbour vote in the raw feature space (non-linear). Accuracy = mean(ŷ == y).
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

from regae.analysis.embed import encode
from regae.analysis.section import Section
from regae.analysis.tables import md_table, pct
from regae.analysis.tsne import subset_indices

CLASSIFIERS = {
    "logistic regression": lambda seed: make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, tol=1e-3)),
    "5-NN": lambda seed: KNeighborsClassifier(n_neighbors=5),
}


def probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
          seed: int = 0) -> dict[str, float]:
    """Test accuracy of every classifier in :data:`CLASSIFIERS` fitted on (train_x, train_y)."""
    acc = {}
    for name, make in CLASSIFIERS.items():
        clf = make(seed).fit(train_x, train_y)
        acc[name] = float((clf.predict(test_x) == test_y).mean())
    return acc


def pca_features(train_x: np.ndarray, test_x: np.ndarray, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Project both sets on the top ``dim`` principal components of ``train_x``."""
    pca = PCA(n_components=dim, random_state=seed).fit(train_x)
    return pca.transform(train_x), pca.transform(test_x)


def probe_section(models: dict[str, object], train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor],
                  n_train: int = 20000, seed: int = 0) -> Section:
    """Accuracies for every AE and the pixel / PCA baselines; names the better AE per classifier."""
    idx = subset_indices(len(train[0]), n_train, seed)
    tr_img, tr_y = train[0][idx], train[1][idx].numpy()
    te_img, te_y = test[0], test[1].numpy()
    pix_tr = tr_img.flatten(1).float().div(255).numpy()  # (n, 784)
    pix_te = te_img.flatten(1).float().div(255).numpy()
    dims = sorted({m.latent_dim for m in models.values()})
    jobs = [(name, "AE") for name in models] + [("raw pixels", "pixels")] + [(f"PCA-{d} of pixels", d) for d in dims]
    results: dict[str, dict[str, float]] = {}
    for name, kind in tqdm(jobs, desc="classifiers", unit="features"):
        if kind == "AE":
            ftr, fte = encode(models[name], tr_img).numpy(), encode(models[name], te_img).numpy()
        elif kind == "pixels":
            ftr, fte = pix_tr, pix_te
        else:
            ftr, fte = pca_features(pix_tr, pix_te, kind, seed)
        results[name] = probe(ftr, tr_y, fte, te_y, seed)
    header = ["features", "dim"] + list(CLASSIFIERS)
    dim_of = {**{n: m.latent_dim for n, m in models.items()}, "raw pixels": 784, **{f"PCA-{d} of pixels": d for d in dims}}
    rows = [[n, dim_of[n]] + [pct(results[n][c]) for c in CLASSIFIERS] for n in results]
    verdict, comparison = _verdict(results, list(models))
    text = (
        f"Classifiers fitted on the codes of {len(idx):,} training images (a seed-{seed} subset of the 60,000) and "
        f"scored on all {len(te_y):,} test images; chance is about 10 %. Logistic regression uses standardised "
        "features; 5-NN uses the features as they are. Baselines: the raw 784 pixels and PCA of the pixels to "
        "the AE latent size.\n\n" + md_table(header, rows) + "\n\n" + verdict
    )
    metrics = {"n_train": len(idx), "n_test": len(te_y), "seed": seed, "accuracy": results, "dims": dim_of,
               "comparison": comparison}
    return Section("classification", "Classification on the embeddings", text, metrics)


def _verdict(results: dict[str, dict[str, float]], aes: list[str]) -> tuple[str, dict]:
    """Which AE is better per classifier and by how many percentage points (needs >= 2 AEs)."""
    if len(aes) < 2:
        return "(One AE only: no comparison between autoencoders.)", {}
    lines, comparison = [], {}
    for clf in CLASSIFIERS:
        ranked = sorted(aes, key=lambda n: results[n][clf], reverse=True)
        best, second = ranked[0], ranked[1]
        gap = 100 * (results[best][clf] - results[second][clf])
        comparison[clf] = {"best": best, "runner_up": second, "gap_points": gap}
        if gap == 0:
            lines.append(f"- {clf}: {best} and {second} tie at {pct(results[best][clf])}.")
        else:
            lines.append(f"- {clf}: **{best}** is better than {second} by {gap:.2f} percentage points "
                         f"({pct(results[best][clf])} vs {pct(results[second][clf])}).")
    return "**Which AE is better for classification:**\n\n" + "\n".join(lines), comparison


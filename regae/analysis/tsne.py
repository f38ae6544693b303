"""t-SNE of test-set embeddings, one panel per AE, coloured by the true digit.

The same fixed-seed subset of test images is embedded for every AE, and scikit-learn's
``TSNE`` runs with a fixed ``random_state`` and PCA initialisation, so reruns give the
same picture.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402
from torch import Tensor  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from regae.checkpoints.write import atomic_write_figure
from regae.model.inference import encode  # noqa: E402
from regae.reports.section import Section  # noqa: E402

PERPLEXITY = 30.0
DIGITS = tuple(str(c) for c in range(10))


def subset_indices(n_total: int, n: int, seed: int) -> Tensor:
    """``min(n, n_total)`` distinct indices drawn with a seeded ``torch.Generator``, sorted."""
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n_total, generator=g)[: min(n, n_total)].sort().values


def tsne_2d(emb: np.ndarray, seed: int, perplexity: float = PERPLEXITY) -> np.ndarray:
    """(n, d) -> (n, 2) t-SNE coordinates."""
    perplexity = min(perplexity, max(1.0, (len(emb) - 1) / 3))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, n_jobs=None)
    return tsne.fit_transform(np.asarray(emb, dtype=np.float32))


def plot_tsne(panels: dict[str, np.ndarray], labels: np.ndarray, path: Path,
              classes: tuple[str, ...] | None = DIGITS) -> None:
    """One scatter panel per AE; colours = classes (one shared legend), or one colour when unlabelled."""
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n + 1.0, 5.2), squeeze=False)
    cmap = plt.get_cmap("tab10" if classes is not None and len(classes) <= 10 else "tab20")
    for ax, (name, xy) in zip(axes[0], panels.items()):
        if classes is None:
            ax.scatter(xy[:, 0], xy[:, 1], s=3, color="C0", alpha=0.6, linewidths=0)
        for c, cname in enumerate(classes or ()):
            m = labels == c
            ax.scatter(xy[m, 0], xy[m, 1], s=3, color=cmap(c % cmap.N), label=cname, alpha=0.8, linewidths=0)
        ax.set_title(f"{name}", fontsize=12)
        ax.set_xticks([])
        ax.set_yticks([])
    if classes is not None:
        handles, names = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, names, title="class", loc="center right", markerscale=5, frameon=False)
    fig.suptitle(f"t-SNE of test-set embeddings h = E(x) ({len(labels):,} test images)", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1 - 0.9 / (5.2 * n + 1.0), 1))
    atomic_write_figure(fig, path, dpi=110)
    plt.close(fig)


def tsne_section(groups: dict[str, list], test_images: Tensor, test_labels: Tensor, out: Path,
                 n: int = 2000, seed: int = 0, classes: tuple[str, ...] | None = DIGITS) -> Section:
    """One panel per AE (its first training seed), coloured by class (``classes=None``: unlabelled)."""
    models = {name: ms[0] for name, ms in groups.items()}
    idx = subset_indices(len(test_images), n, seed)
    labels = test_labels[idx].numpy()
    panels = {}
    for name in tqdm(models, desc="t-SNE", unit="AE"):
        panels[name] = tsne_2d(encode(models[name], test_images[idx]).numpy(), seed)
    plot_tsne(panels, labels, out / "tsne.png", classes)
    text = (
        f"t-SNE (scikit-learn, perplexity {PERPLEXITY:g}, PCA init, seed {seed}) of the embeddings of the same "
        f"{len(idx):,} randomly chosen test images (seed {seed}) for every AE, "
        + ("coloured by the true class" if classes is not None else
           "in one colour: the dataset has no labels, so there is nothing to colour by")
        + (" (first training seed of each AE)" if any(len(ms) > 1 for ms in groups.values()) else "") + ".\n\n"
        "![t-SNE of test embeddings](tsne.png)"
    )
    metrics = {"n_images": len(idx), "seed": seed, "perplexity": PERPLEXITY,
               "classes": list(classes) if classes is not None else None}
    return Section("tsne", "t-SNE of the test embeddings", text, metrics, [Path("tsne.png")])


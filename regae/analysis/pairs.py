"""Pixel vs latent interpolation on 20 fixed test pairs from different classes, for every AE.

For a pair (I₁, I₂) and α ∈ {0, .2, .4, .6, .8, 1}: Î_α = D(E(α I₁ + (1-α) I₂)) and
Î'_α = D(α h₁ + (1-α) h₂) (see :mod:`regae.analysis.interpolation`). Per α we report
PSNR(Î_α, Î'_α) (data range 1) and ‖h_α - h'_α‖₂ as mean ± std over the pairs. At α = 0, 1
both routes decode the same code: PSNR = ∞ and distance 0, written as such.

Figures show the first training seed of each AE; the numbers average the seeds. Two AEs are
compared by the per-pair mean PSNR over the interior α (0 < α < 1), paired over the same image
pairs (paired bootstrap, :func:`regae.reports.stats.paired_bootstrap`).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from regae.analysis.interpolation import DEFAULT_ALPHAS, interpolate  # noqa: E402
from regae.analysis.tsne import DIGITS  # noqa: E402
from regae.checkpoints.write import atomic_write_figure
from regae.data.mnist import to_float  # noqa: E402
from regae.errors import DataError  # noqa: E402
from regae.reports.section import Section  # noqa: E402
from regae.reports.stats import paired_bootstrap, pairwise  # noqa: E402
from regae.reports.tables import fmt, fmt_mean_std, md_table, mean_std  # noqa: E402


class PairResults(NamedTuple):
    pixel: Tensor  # (P, A, C, H, W)  Î_α
    latent: Tensor  # (P, A, C, H, W)  Î'_α
    psnr: Tensor  # (P, A) dB, +inf where identical
    dist: Tensor  # (P, A) ‖h_α - h'_α‖₂
    endpoint_dist: Tensor  # (P,) ‖h₁ - h₂‖₂


def draw_pairs(labels: Tensor, n_pairs: int = 20, seed: int = 0) -> Tensor:
    """(n_pairs, 2) indices (i₁, i₂) into ``labels`` with labels[i₁] != labels[i₂], from a seeded generator.

    Unlabelled data (every label -1) gives pairs of two different images.
    """
    unlabelled = bool((labels < 0).all())
    if not unlabelled and labels.unique().numel() < 2:
        raise DataError("interpolation pairs need images of at least two classes")
    if len(labels) < 2:
        raise DataError("interpolation pairs need at least two test images")
    g = torch.Generator().manual_seed(seed)
    pairs: list[tuple[int, int]] = []
    while len(pairs) < n_pairs:
        i, j = torch.randint(len(labels), (2,), generator=g).tolist()
        if (i != j) if unlabelled else (labels[i] != labels[j]):
            pairs.append((i, j))
    return torch.tensor(pairs)


def run_pairs(model, images: Tensor, pairs: Tensor, alphas=DEFAULT_ALPHAS) -> PairResults:
    """Interpolate every pair of uint8 ``images`` ((N, H, W) or (N, C, H, W)) indexed by ``pairs`` (P, 2)."""
    device = next(model.parameters()).device
    out = []
    for i, j in pairs.tolist():
        x1, x2 = to_float(images[[i, j]]).to(device)  # each (C, H, W)
        r = interpolate(model, x1, x2, alphas)
        with torch.no_grad():
            h1, h2 = model.encode(torch.stack([x1, x2]))  # (d,) each
        out.append((r.pixel.cpu(), r.latent.cpu(), r.psnr.cpu(), r.latent_dist.cpu(), (h1 - h2).norm().cpu()))
    pixel, latent, psnr, dist, ends = (torch.stack(t) for t in zip(*out))
    return PairResults(pixel, latent, psnr, dist, ends)


def summary(results: PairResults, alphas=DEFAULT_ALPHAS) -> list[dict]:
    """Per α: {'alpha', 'psnr_db': {mean, std}, 'latent_dist': {mean, std}} over the pairs."""
    return [
        {"alpha": float(a), "psnr_db": mean_std(results.psnr[:, k]), "latent_dist": mean_std(results.dist[:, k])}
        for k, a in enumerate(alphas)
    ]


def as_rgb_or_grey(img: Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W) for one channel, (H, W, 3) for colour."""
    return img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).numpy()


def pair_caption(p: int, labels: Tensor, pairs: Tensor, psnr: Tensor, classes: tuple[str, ...] | None) -> str:
    i1, i2 = pairs[p].tolist()
    names = classes if classes is not None else None
    cap = f"pair {p + 1}" + (f": I₁ = {names[int(labels[i1])]}, I₂ = {names[int(labels[i2])]}" if names else "")
    fin = psnr[p][torch.isfinite(psnr[p])]
    return cap + (f"   PSNR(α∈(0,1)) {fin.mean():.1f} dB" if len(fin) else "")


def plot_pairs(name: str, results: PairResults, labels: Tensor, pairs: Tensor, first: int, count: int,
               alphas, path: Path, columns: int = 2, classes: tuple[str, ...] | None = DIGITS) -> None:
    """Pairs ``first .. first+count-1``: per pair a row Î_α (pixel mix) over a row Î'_α (latent mix).

    Images are drawn at their own size (H, W), in colour when they have three channels.
    """
    c_img, h_img, w_img = results.pixel.shape[2:]
    n_alpha, gap, label_w, cap_h, block_gap = len(alphas), 2, 44, 13, 22
    cell = max(h_img, w_img, 28)
    block_w = label_w + n_alpha * w_img + (n_alpha - 1) * gap
    block_h = cap_h + 2 * h_img + gap
    rows = -(-count // columns)
    top = 14
    width, height = columns * block_w + (columns - 1) * block_gap, top + rows * block_h + (rows - 1) * 6
    canvas = np.ones((height, width) if c_img == 1 else (height, width, 3))
    inch = 0.6 / cell * (28 / cell) ** -0.5
    fig = plt.figure(figsize=(width * inch, height * inch))
    ax = fig.add_axes((0, 0, 1, 1))
    texts = []
    for n in range(count):
        p = first + n
        bx, by = (n % columns) * (block_w + block_gap), top + (n // columns) * (block_h + 6)
        for r, imgs in enumerate((results.pixel[p], results.latent[p])):
            y = by + cap_h + r * (h_img + gap)
            for k in range(n_alpha):
                x = bx + label_w + k * (w_img + gap)
                canvas[y : y + h_img, x : x + w_img] = as_rgb_or_grey(imgs[k])
            texts.append((bx + label_w - 3, y + h_img / 2, ["D(E(I_α))", "D(h'_α)"][r], "right", 7))
        texts.append((bx + label_w, by + cap_h - 4, pair_caption(p, labels, pairs, results.psnr, classes), "left", 7.5))
    for c in range(columns):
        for k, a in enumerate(alphas):
            texts.append((c * (block_w + block_gap) + label_w + k * (w_img + gap) + w_img / 2, top - 4, f"α={a:g}",
                          "center", 7.5))
    ax.imshow(canvas, cmap="gray" if c_img == 1 else None, vmin=0, vmax=1, interpolation="nearest")
    for x, y, s_, ha, size in texts:
        ax.text(x, y, s_, ha=ha, va="center" if ha == "right" else "bottom", fontsize=size, color="black")
    ax.set_axis_off()
    atomic_write_figure(fig, path, dpi=150, facecolor="white")
    plt.close(fig)


def plot_curves(summaries: dict[str, list[dict]], path: Path) -> None:
    """PSNR and latent distance vs α (mean ± std); ∞ at the endpoints is left out of the PSNR panel."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, rows in summaries.items():
        fin = [r for r in rows if r["psnr_db"]["std"] is not None]
        a1.errorbar([r["alpha"] for r in fin], [r["psnr_db"]["mean"] for r in fin],
                    yerr=[r["psnr_db"]["std"] for r in fin], marker="o", capsize=3, label=name)
        a2.errorbar([r["alpha"] for r in rows], [r["latent_dist"]["mean"] for r in rows],
                    yerr=[r["latent_dist"]["std"] or 0 for r in rows], marker="o", capsize=3, label=name)
    a1.set(xlabel="α", ylabel="PSNR(Î_α, Î'_α) [dB]", title="PSNR, pixel vs latent mix (∞ at α=0, 1)")
    a2.set(xlabel="α", ylabel="‖h_α − h'_α‖₂", title="Distance of the two codes")
    for a in (a1, a2):
        a.grid(alpha=0.3)
        a.legend()
    fig.tight_layout()
    atomic_write_figure(fig, path, dpi=110)
    plt.close(fig)


def interior_psnr(results: PairResults, alphas=DEFAULT_ALPHAS) -> np.ndarray:
    """Per pair, the mean PSNR(Î_α, Î'_α) over the interior α (0 < α < 1): (P,)."""
    inner = [k for k, a in enumerate(alphas) if 0 < a < 1]
    return results.psnr[:, inner].double().mean(1).numpy()


def route_comparisons(per_pair: dict[str, np.ndarray], seed: int = 0) -> list[dict]:
    """Every pair of AEs: difference of the mean interior PSNR, paired over image pairs."""
    return pairwise(per_pair, paired_bootstrap, "dB", seed)


def interpolation_section(groups: dict[str, list], test_images: Tensor, test_labels: Tensor, out: Path,
                          n_pairs: int = 20, seed: int = 0, alphas=DEFAULT_ALPHAS, per_page: int = 10,
                          classes: tuple[str, ...] | None = DIGITS) -> Section:
    pairs = draw_pairs(test_labels, n_pairs, seed)
    runs = {name: [run_pairs(m, test_images, pairs, alphas) for m in ms] for name, ms in groups.items()}
    results = {name: rs[0] for name, rs in runs.items()}  # first seed: figures and per-α table
    per_pair = {name: np.mean([interior_psnr(r, alphas) for r in rs], axis=0) for name, rs in runs.items()}
    models = list(groups)
    summaries = {name: summary(r, alphas) for name, r in results.items()}
    figures = []
    for name, r in results.items():
        for page, first in enumerate(range(0, n_pairs, per_page)):
            fname = f"interpolation_{_slug(name)}_{page + 1}.png"
            plot_pairs(name, r, test_labels, pairs, first, min(per_page, n_pairs - first), alphas, out / fname,
                       classes=classes)
            figures.append((name, first, fname))
    plot_curves(summaries, out / "interpolation_curves.png")
    psnr_rows = [[f"{a:g}"] + [fmt_mean_std(summaries[n][k]["psnr_db"]) for n in models] for k, a in enumerate(alphas)]
    dist_rows = [[f"{a:g}"] + [fmt_mean_std(summaries[n][k]["latent_dist"], 3) for n in models]
                 for k, a in enumerate(alphas)]
    ends = ", ".join(f"{n}: {fmt(float(results[n].endpoint_dist.mean()), 3)}" for n in models)
    cmp = route_comparisons(per_pair, seed)
    multi = any(len(rs) > 1 for rs in runs.values())
    text = [
        f"{n_pairs} pairs of test images " + ("with different labels" if classes is not None else "(two different images; "
                                               "the dataset has no labels)")
        + f", drawn once with seed {seed} and used for every AE. "
        "I_α = α I₁ + (1−α) I₂; the pixel route decodes h_α = E(I_α), the latent route decodes "
        "h'_α = α h₁ + (1−α) h₂. Mean ± std over the pairs; at α = 0 and 1 both routes decode the same "
        "code, so PSNR is ∞ (identical images) and the distance is 0."
        + (" Tables and figures show the first training seed of each AE." if multi else "") + "\n",
        "**PSNR(Î_α, Î'_α) in dB**\n\n" + md_table(["α"] + models, psnr_rows),
        "**‖h_α − h'_α‖₂**\n\n" + md_table(["α"] + models, dist_rows),
        f"For scale, the mean endpoint distance ‖h₁ − h₂‖₂ is {ends}.\n",
        "**How close the two routes stay**, mean PSNR over 0 < α < 1 per pair"
        + (" (averaged over seeds)" if multi else "") + ": "
        + ", ".join(f"{n} {per_pair[n].mean():.2f} dB" for n in models) + "."
        + ("".join(f"\n- {c['sentence']} (paired bootstrap over the {n_pairs} pairs)." for c in cmp)),
        "![PSNR and latent distance vs alpha](interpolation_curves.png)\n",
    ]
    for name, first, fname in figures:
        last = min(first + per_page, n_pairs)
        text.append(f"*{name}, pairs {first + 1}–{last}: upper row of each pair Î_α = D(E(I_α)), "
                    f"lower row Î'_α = D(h'_α).*\n\n![{name} interpolation pairs {first + 1}-{last}]({fname})\n")
    metrics = {
        "alphas": list(alphas), "seed": seed,
        "pairs": [{"index_1": i, "index_2": j, "label_1": int(test_labels[i]), "label_2": int(test_labels[j])}
                  for i, j in pairs.tolist()],
        "models": {n: {"per_alpha": summaries[n], "psnr_db_per_pair": results[n].psnr,
                       "latent_dist_per_pair": results[n].dist, "endpoint_dist_per_pair": results[n].endpoint_dist,
                       "interior_psnr_db_per_pair_seed_mean": per_pair[n], "seeds": len(runs[n])}
                   for n in models},
        "comparisons": cmp,
    }
    return Section("interpolation", "Pixel vs latent interpolation", "\n\n".join(t.strip() for t in text), metrics,
                   [Path("interpolation_curves.png")] + [Path(f) for _, _, f in figures])


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)

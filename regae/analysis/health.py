"""The health of a code, the numbers every sparse model is judged by, and what its units code.

On the test images, with h = E(x) and x̂ = D(h)::

    L0       mean over images of the number of active units (95 % interval: t over images)
    dead     fraction of units never active on the test set
    dense    fraction of units active on more than 10 % of the images
    FVU      Σ_i ‖x_i − x̂_i‖² / Σ_i ‖x_i − x̄‖²  (x̄ the mean test image; 95 % interval: bootstrap
             over images of the ratio of sums)
    density  log10 of each unit's activation frequency (a histogram)

"Active" depends on the code (:data:`regae.nets.codes.ACTIVE_ABOVE`): h > 0 for ReLU, topk and
batch_topk codes; h > 1/2 for a sigmoid unit (more on than off); every unit of a linear code.
"What its units code": for the most frequently active live units, the test images that drive
each one hardest, and its decoder image D(s·e_j) (s the unit's 99th-percentile activation, on the
model's mean code for a dense code). The demo's unit view (demo/units.py) shows the same for every unit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from regae.checkpoints.write import atomic_write_figure  # noqa: E402
from regae.data.dataset import to_float  # noqa: E402
from regae.model.inference import evaluating, run  # noqa: E402
from regae.nets.codes import ACTIVE_ABOVE, active_units  # noqa: E402
from regae.reports.section import Section  # noqa: E402
from regae.reports.stats import bootstrap_statistic, mean_interval  # noqa: E402
from regae.reports.tables import md_table  # noqa: E402

DENSE_ABOVE = 0.10  # a unit active on more than this fraction of images is dense
N_UNITS, N_TOP = 8, 6  # units shown, images per unit
ZERO_BASED = ("relu", "topk", "batch_topk")  # codes whose units rest at 0: a unit is probed from the zero code


def active_rule(latent_activation: str) -> str:
    """When a unit counts as active, for people: ``h > 0.5``, ``h > 0``, ``all units (a linear code)``."""
    kind = latent_activation.partition(":")[0]
    return "all units (a linear code)" if kind not in ACTIVE_ABOVE else f"h > {ACTIVE_ABOVE[kind]:g}"


def code_health(codes: Tensor, sq_err: np.ndarray, images: Tensor, latent_activation: str, seed: int = 0) -> dict:
    """The numbers of the module docstring from codes (N, d), per-image MSE (N,) and the images (uint8 or float)."""
    act = active_units(codes, latent_activation)  # (N, d) bool
    l0 = act.sum(1).double().numpy()  # (N,)
    freq = act.double().mean(0).numpy()  # (d,)
    x = to_float(images).flatten(1).double() if images.dtype == torch.uint8 else images.flatten(1).double()
    var = (x - x.mean(0)).pow(2).mean(1).numpy()  # (N,) per-image mean squared deviation from the mean image
    err = np.asarray(sq_err, float)
    fvu = bootstrap_statistic(err, var, lambda e, v: e.mean(axis=(1, 2)) / v.mean(axis=(1, 2)), n_boot=2000, seed=seed)
    live = freq[freq > 0]
    return {
        "active_rule": active_rule(latent_activation),
        "l0": mean_interval(l0), "latent_dim": int(codes.shape[1]),
        "dead_fraction": float((freq == 0).mean()), "dense_fraction": float((freq > DENSE_ABOVE).mean()),
        "fvu": {"estimate": fvu["estimate"], "ci_low": fvu["ci_low"], "ci_high": fvu["ci_high"]},
        "log10_frequency": np.log10(live).tolist(), "frequency": freq.tolist(),
    }


def unit_order(codes: Tensor, latent_activation: str) -> tuple[list[int], Tensor]:
    """Every unit of codes (N, d), most often active first, and each unit's activation frequency (d,).

    Ties, such as the never-active units, go by the mean code, larger first (then by index): a sigmoid
    code trained with KL sparsity can have every unit below 1/2 on every image, and its units still
    differ in how much they are used.
    """
    freq = active_units(codes, latent_activation).double().mean(0)  # (d,)
    mean = codes.double().mean(0)  # (d,)
    return sorted(range(codes.shape[1]), key=lambda j: (-float(freq[j]), -float(mean[j]), j)), freq


def unit_images(model, codes: Tensor, latent_activation: str, n_units: int = N_UNITS, n_top: int = N_TOP,
                dead: bool = False) -> dict[str, Any]:
    """For the ``n_units`` first units of :func:`unit_order` (live ones only, unless ``dead``): the indices of
    their top-activating images (the largest h_j first) and their decoder images (u, C, H, W)."""
    order, freq = unit_order(codes, latent_activation)
    order = [j for j in order if dead or freq[j] > 0][:n_units]
    zero_based = latent_activation.partition(":")[0] in ZERO_BASED
    base = torch.zeros(codes.shape[1]) if zero_based else codes.mean(0)
    tops, probes = [], []
    for j in order:
        tops.append(codes[:, j].argsort(descending=True, stable=True)[:n_top])
        probe = base.clone()
        probe[j] = torch.quantile(codes[:, j], 0.99)
        probes.append(probe)
    with evaluating(model) as device:
        decoded = model.decode(torch.stack(probes).to(device)).float().cpu() if order else None  # (u, C, H, W)
    return {"units": order, "frequency": [float(freq[j]) for j in order], "top_images": [t.tolist() for t in tops],
            "decoded": decoded}


def plot_units(name: str, images: Tensor, units: dict[str, Any], path: Path) -> None:
    """One row per unit: its decoder image, then its top-activating test images."""
    rows = len(units["units"])
    fig, axes = plt.subplots(max(rows, 1), N_TOP + 1, figsize=(1.1 * (N_TOP + 1), 1.15 * max(rows, 1) + 0.4),
                             squeeze=False)
    x = to_float(images) if images.dtype == torch.uint8 else images
    for r, j in enumerate(units["units"]):
        cells = [units["decoded"][r]] + [x[i] for i in units["top_images"][r]]
        for c, img in enumerate(cells):
            ax = axes[r, c]
            img = img if img.dim() == 3 else img.unsqueeze(0)
            ax.imshow(img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).clamp(0, 1).numpy(),
                      cmap="gray" if img.shape[0] == 1 else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(f"unit {j}\n{100 * units['frequency'][r]:.1f} %", rotation=0, ha="right", va="center",
                              fontsize=8)
    axes[0, 0].set_title("decoder", fontsize=8)
    for c in range(1, N_TOP + 1):
        axes[0, c].set_title(f"top {c}", fontsize=8)
    fig.suptitle(f"{name}: what its most often active units code", fontsize=10)
    fig.tight_layout()
    atomic_write_figure(fig, path, dpi=100)
    plt.close(fig)


def plot_density(health: dict[str, dict], path: Path) -> None:
    """Histogram of log10 activation frequency per model (live units)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for name, h in health.items():
        if h["log10_frequency"]:
            ax.hist(h["log10_frequency"], bins=30, range=(-4, 0), histtype="step", lw=1.5, label=name)
    ax.set_xlabel("log10 activation frequency of a unit (test images)")
    ax.set_ylabel("units")
    ax.set_title("Feature density (dead units not shown)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write_figure(fig, path, dpi=110)
    plt.close(fig)


def health_section(groups: dict[str, list[Any]], test_images: Tensor, out: Path, seed: int = 0) -> Section:
    """Health metrics of every model (its first seed) on the test images, a density histogram and unit figures."""
    metrics, rows, figures = {}, [], []
    for name, models in groups.items():
        model = models[0]
        kind = model.hparams.get("latent_activation", "sigmoid")
        p = run(model, test_images)
        h = code_health(p.codes, p.sq_err.numpy(), test_images, kind, seed)
        units = unit_images(model, p.codes, kind)
        rel = Path(f"units_{name}.png")
        plot_units(name, test_images, units, out / rel)
        figures.append(rel)
        metrics[name] = h | {"units_shown": {k: v for k, v in units.items() if k != "decoded"},
                             "latent_activation": kind}
        l0 = h["l0"]
        rows.append([name, kind, h["active_rule"], f"{l0['mean']:.2f} [{l0['ci_low']:.2f}, {l0['ci_high']:.2f}] of "
                     f"{h['latent_dim']}", f"{100 * h['dead_fraction']:.1f} %", f"{100 * h['dense_fraction']:.1f} %",
                     f"{h['fvu']['estimate']:.4f} [{h['fvu']['ci_low']:.4f}, {h['fvu']['ci_high']:.4f}]"])
    density = Path("feature_density.png")
    plot_density({n: {"log10_frequency": m["log10_frequency"]} for n, m in metrics.items()}, out / density)
    figures.append(density)
    for m in metrics.values():  # the per-unit lists stay in the figures; metrics.json keeps the summary
        m.pop("frequency"), m.pop("log10_frequency")
    text = ("The numbers every sparse code is judged by, on the test images (the first training seed of each AE): "
            "L0 is the mean number of active units per image, dead units are never active, dense ones on more "
            f"than {100 * DENSE_ABOVE:.0f} % of the images, FVU is the fraction of the images' variance the "
            "reconstruction leaves (0 is perfect, 1 no better than the mean image).\n\n"
            + md_table(["AE", "code", "active when", "L0 (95 % CI)", "dead", "dense", "FVU (95 % CI)"], rows)
            + f"\n\n![feature density]({density.as_posix()})\n\n"
            + "\n\n".join(f"![units of {n}]({f.as_posix()})" for n, f in zip(groups, figures))
            + "\n\nEach row above: a unit's decoder image D(s·e_j) (s its 99th-percentile activation; on the mean "
            "code for a dense code), then the test images that drive it hardest; the units are the most often "
            "active live ones, with their activation frequency.")
    return Section("health", "Code health: L0, dead and dense units, FVU, what units code", text, metrics, figures)

"""Per-AE overview: test PSNR, regularizer values on test images, training loss curves.

* test PSNR = 10 log10(1 / MSE) with the MSE pooled over every pixel of the test set
  (:mod:`regae.model.inference`, as ``regae test`` logs it); with several
  training seeds, mean ± std over the seeds. Two AEs are compared on the same test images by a
  paired bootstrap of the PSNR difference (:func:`regae.reports.stats.psnr_difference`).
* mean activation ρ̄ = mean_{b,j} h_bj;  KL(ρ ‖ ρ̂) = Σ_j KL(ρ ‖ ρ̂_j), ρ̂_j the batch mean of unit j;
  contractive ‖∂h/∂x‖²_F per image (exact, d VJPs), averaged. Each is computed for every AE
  (not only the one trained with it), in batches of 128 like a training step.
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

from regae.checkpoints.write import atomic_write_figure
from regae.data.dataset import to_float  # noqa: E402
from regae.model.inference import reconstruct, run  # noqa: E402
from regae.regularizers.contractive import frobenius_exact  # noqa: E402
from regae.regularizers.sparsity import kl_sparsity  # noqa: E402
from regae.reports.section import Section  # noqa: E402
from regae.reports.stats import mean_interval, pairwise, pooled_psnr, psnr_difference  # noqa: E402
from regae.reports.tables import fmt, md_table  # noqa: E402

KL_RHO = 0.05
REG_BATCH = 128


def per_image_sq_err(model, images: Tensor) -> np.ndarray:
    """Mean squared error of D(E(x)) against x per image (N,), float64; its mean is the pooled MSE."""
    return run(model, images).sq_err.numpy()


def regularizer_values(model, images: Tensor, batch_size: int = REG_BATCH, rho: float = KL_RHO) -> dict[str, Any]:
    """Mean activation, KL(ρ‖ρ̂) (None unless the latent is in [0, 1]) and exact ‖∂h/∂x‖²_F on ``images``."""
    device = next(model.parameters()).device
    acts, kls, jac = [], [], []
    for s in range(0, len(images), batch_size):
        x = to_float(images[s : s + batch_size]).to(device)  # (b, C, H, W)
        with torch.no_grad():
            h = model.encode(x)  # (b, d)
        acts.append(h.mean().item())
        kls.append(kl_sparsity(h, rho).item() if h.min() >= 0 and h.max() <= 1 else None)
        jac.append(frobenius_exact(model.net.encoder, x, chunk_size=8).detach().mean().item())
    return {
        "mean_activation": sum(acts) / len(acts),
        f"kl_rho_{rho:g}": None if None in kls else sum(kls) / len(kls),
        "contractive_jacobian_fro2": sum(jac) / len(jac),
        "n_images": len(images),
    }


def training_penalties(model) -> str:
    """The model's own penalties as text, e.g. 'kl ×0.001 (rho=0.05)'."""
    parts = []
    for spec in model.hparams.get("regularizers") or []:
        extra = ", ".join(f"{k}={v}" for k, v in spec.items() if k not in ("name", "weight"))
        parts.append(f"{spec['name']} ×{spec['weight']:g}" + (f" ({extra})" if extra else ""))
    return "; ".join(parts) or "none"


def plot_loss_curves(histories: dict[str, list[list[tuple[int, float]]]], path: Path) -> None:
    """Training loss against step, one colour per AE, one line per training seed."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for c, (name, runs) in enumerate(histories.items()):
        for k, hist in enumerate(runs):
            if hist:
                steps, losses = zip(*hist)
                ax.plot(steps, losses, color=f"C{c}", lw=1.0, alpha=0.9 if k == 0 else 0.5,
                        label=name if k == 0 else None)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss (reconstruction + weighted penalty)")
    ax.set_title("Training loss (one line per training seed)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    atomic_write_figure(fig, path, dpi=110)
    plt.close(fig)


def plot_reconstructions(images: Tensor, recons: dict[str, Tensor], path: Path) -> None:
    """Row 'input' then one row per AE; ``images`` uint8 (n, H, W) or (n, C, H, W), recons (n, C, H, W)."""
    n, rows = len(images), 1 + len(recons)
    fig, axes = plt.subplots(rows, n, figsize=(0.9 * n + 1.2, 0.95 * rows + 0.3), squeeze=False)
    for r, (name, imgs) in enumerate([("input", to_float(images))] + list(recons.items())):
        for c in range(n):
            ax = axes[r, c]
            if imgs.shape[1] == 1:
                ax.imshow(imgs[c, 0].detach().cpu().numpy(), cmap="gray", vmin=0, vmax=1)  # numpy: matplotlib warns on tensors
            else:
                ax.imshow(imgs[c].permute(1, 2, 0).clamp(0, 1).detach().cpu().numpy())
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
    fig.suptitle("Test images and their reconstructions D(E(x))", fontsize=11)
    fig.tight_layout()
    atomic_write_figure(fig, path, dpi=110)
    plt.close(fig)


def one_per_class(labels: Tensor, most: int = 10) -> Tensor:
    """Index of the first image of each class in label order (at most ``most``); the first
    ``most`` images when the data is unlabelled (labels -1)."""
    if bool((labels < 0).all()):
        return torch.arange(min(most, len(labels)))
    return torch.stack([(labels == c).nonzero()[0, 0] for c in labels.unique().sort().values[:most]])


def fmt_psnr(values: list[float]) -> str:
    """'24.43' for one seed, '24.43 ± 0.12 (3 seeds)' for several."""
    m = mean_interval(values)
    return fmt(m["mean"]) if m["std"] is None else f"{fmt(m['mean'])} ± {fmt(m['std'])} ({m['n']} seeds)"


def psnr_comparisons(sq_err: dict[str, np.ndarray], seed: int = 0) -> list[dict]:
    """PSNR(A) − PSNR(B) for every pair of AEs, paired bootstrap over test images; sq_err: (seeds, N)."""
    return pairwise(sq_err, psnr_difference, "dB", seed)


def overview_section(groups: dict[str, list[Any]], test_images: Tensor, test_labels: Tensor, out: Path,
                     n_reg: int = 256, checkpoints: dict[str, list[str]] | None = None) -> Section:
    """Test PSNR (over seeds, with the paired comparison), regularizer values and loss curves of every AE."""
    rows, metrics, histories, recons, sq_err = [], {}, {}, {}, {}
    sample = one_per_class(test_labels)
    for name, models in groups.items():
        sq_err[name] = np.stack([per_image_sq_err(m, test_images) for m in models])  # (seeds, N)
        psnrs = [float(v) for v in pooled_psnr(sq_err[name])]
        regs = [regularizer_values(m, test_images[:n_reg]) for m in models]
        histories[name] = [[tuple(p) for p in m.loss_history] for m in models]
        recons[name] = reconstruct(models[0], test_images[sample])
        reg_mean = {k: (None if any(r[k] is None for r in regs) else float(np.mean([r[k] for r in regs])))
                    for k in regs[0]}
        metrics[name] = {
            "checkpoints": (checkpoints or {}).get(name), "arch": models[0].hparams.get("arch"),
            "latent_dim": models[0].latent_dim, "trained_with": training_penalties(models[0]),
            "seeds": len(models), "test_psnr_db": mean_interval(psnrs)["mean"], "test_psnr_db_per_seed": psnrs,
            "test_psnr_db_interval_over_seeds": mean_interval(psnrs), "test_mse": float(sq_err[name].mean()),
            "test_images": len(test_images), "regularizers_on_test": reg_mean,
            "loss_history": [[list(p) for p in h] for h in histories[name]],
            "last_recorded_train_loss": [h[-1][1] if h else None for h in histories[name]],
        }
        kl = reg_mean[f"kl_rho_{KL_RHO:g}"]
        rows.append([name, training_penalties(models[0]), fmt_psnr(psnrs), fmt(float(sq_err[name].mean()), 5),
                     fmt(reg_mean["mean_activation"], 4), fmt(kl, 4), fmt(reg_mean["contractive_jacobian_fro2"], 3)])
    cmp = psnr_comparisons(sq_err)
    plot_loss_curves(histories, out / "loss_curves.png")
    plot_reconstructions(test_images[sample], recons, out / "reconstructions.png")
    table = md_table(["AE", "trained with", "test PSNR (dB)", "test MSE", "mean h", f"KL(ρ={KL_RHO:g} ‖ ρ̂)",
                      "‖∂h/∂x‖²_F"], rows)
    cmp_text = ""
    if cmp:
        cmp_text = ("\n\n**Test PSNR compared on the same test images** (paired bootstrap over the "
                    f"{len(test_images):,} images, {cmp[0]['n_boot']:,} resamples; with several seeds each "
                    "AE's PSNR is its seed mean):\n\n" + "\n".join(f"- {c['sentence']}." for c in cmp))
    text = (
        f"Test PSNR is pooled over all {len(test_images):,} test images (torchmetrics, data range 1); with "
        "several training seeds it is given as mean ± std over the seeds. "
        f"The regularizer columns are measured on the first {min(n_reg, len(test_images))} test images in "
        f"batches of {REG_BATCH} for every AE, whichever penalty it was trained with: mean latent activation, "
        f"the KL sparsity penalty Σ_j KL(ρ ‖ ρ̂_j) with ρ = {KL_RHO:g}, and the exact contractive penalty "
        "mean ‖∂h/∂x‖²_F (unweighted), averaged over seeds.\n\n"
        f"{table}{cmp_text}\n\n![training loss curves](loss_curves.png)\n\n![reconstructions](reconstructions.png)"
    )
    metrics["comparisons"] = cmp
    return Section("overview", "Reconstruction, regularizers and training", text, metrics,
                   [Path("loss_curves.png"), Path("reconstructions.png")])

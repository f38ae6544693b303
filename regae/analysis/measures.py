"""Per-AE overview: test PSNR, regularizer values on test images, training loss curves.

* test PSNR = 10 log10(1 / MSE) with the MSE pooled over every pixel of the test set
  (torchmetrics ``PeakSignalNoiseRatio(data_range=1)``, as ``regae test`` logs it).
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
import torch  # noqa: E402
from torch import Tensor  # noqa: E402
from torchmetrics.image import PeakSignalNoiseRatio  # noqa: E402

from regae.analysis.embed import reconstruct  # noqa: E402
from regae.analysis.section import Section  # noqa: E402
from regae.analysis.tables import fmt, md_table  # noqa: E402
from regae.data.mnist import to_float  # noqa: E402
from regae.regularizers.contractive import frobenius_exact  # noqa: E402
from regae.regularizers.sparsity import kl_sparsity  # noqa: E402

KL_RHO = 0.05
REG_BATCH = 128


@torch.no_grad()
def test_psnr(model, images: Tensor, batch_size: int = 1000) -> tuple[float, float]:
    """(PSNR in dB, MSE) of D(E(x)) against x over all of ``images`` (N, 28, 28) uint8."""
    metric = PeakSignalNoiseRatio(data_range=1.0)
    sq, count = 0.0, 0
    for s in range(0, len(images), batch_size):
        x = to_float(images[s : s + batch_size])
        x_hat = reconstruct(model, images[s : s + batch_size], batch_size)
        metric.update(x_hat, x)
        sq, count = sq + (x_hat - x).pow(2).sum().item(), count + x.numel()
    return float(metric.compute()), sq / count


def regularizer_values(model, images: Tensor, batch_size: int = REG_BATCH, rho: float = KL_RHO) -> dict[str, Any]:
    """Mean activation, KL(ρ‖ρ̂) (None unless the latent is in [0, 1]) and exact ‖∂h/∂x‖²_F on ``images``."""
    device = next(model.parameters()).device
    acts, kls, jac = [], [], []
    for s in range(0, len(images), batch_size):
        x = to_float(images[s : s + batch_size]).to(device)  # (b, 1, 28, 28)
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


def plot_loss_curves(histories: dict[str, list[tuple[int, float]]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, hist in histories.items():
        if hist:
            steps, losses = zip(*hist)
            ax.plot(steps, losses, label=name, lw=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss (reconstruction + weighted penalty)")
    ax.set_title("Training loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reconstructions(images: Tensor, recons: dict[str, Tensor], path: Path) -> None:
    """Row 'input' then one row per AE; ``images`` (n, 28, 28) uint8, recons (n, 1, 28, 28)."""
    n, rows = len(images), 1 + len(recons)
    fig, axes = plt.subplots(rows, n, figsize=(0.9 * n + 1.2, 0.95 * rows + 0.3), squeeze=False)
    for r, (name, imgs) in enumerate([("input", to_float(images))] + list(recons.items())):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(imgs[c, 0].detach().cpu().numpy(), cmap="gray", vmin=0, vmax=1)  # numpy: matplotlib warns on tensors
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
    fig.suptitle("Test images and their reconstructions D(E(x))", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def one_per_class(labels: Tensor) -> Tensor:
    """Index of the first image of each class 0..9 (in label order)."""
    return torch.stack([(labels == c).nonzero()[0, 0] for c in labels.unique().sort().values])


def overview_section(models: dict[str, Any], test_images: Tensor, test_labels: Tensor, out: Path,
                     n_reg: int = 256, checkpoints: dict[str, str] | None = None) -> Section:
    """Test PSNR, regularizer values and loss curves of every AE."""
    rows, metrics, histories, recons = [], {}, {}, {}
    sample = one_per_class(test_labels)
    for name, model in models.items():
        psnr, mse = test_psnr(model, test_images)
        regs = regularizer_values(model, test_images[:n_reg])
        hist = [tuple(p) for p in model.loss_history]
        histories[name] = hist
        recons[name] = reconstruct(model, test_images[sample])
        metrics[name] = {
            "checkpoint": (checkpoints or {}).get(name), "arch": model.hparams.get("arch"),
            "latent_dim": model.latent_dim, "trained_with": training_penalties(model),
            "test_psnr_db": psnr, "test_mse": mse, "test_images": len(test_images),
            "regularizers_on_test": regs, "loss_history": [list(p) for p in hist],
            "last_recorded_train_loss": hist[-1][1] if hist else None,
        }
        kl = regs[f"kl_rho_{KL_RHO:g}"]
        rows.append([name, training_penalties(model), fmt(psnr), fmt(mse, 5), fmt(regs["mean_activation"], 4),
                     fmt(kl, 4), fmt(regs["contractive_jacobian_fro2"], 3)])
    plot_loss_curves(histories, out / "loss_curves.png")
    plot_reconstructions(test_images[sample], recons, out / "reconstructions.png")
    table = md_table(["AE", "trained with", "test PSNR (dB)", "test MSE", "mean h", f"KL(ρ={KL_RHO:g} ‖ ρ̂)",
                      "‖∂h/∂x‖²_F"], rows)
    text = (
        f"Test PSNR is pooled over all {len(test_images):,} test images (torchmetrics, data range 1). "
        f"The regularizer columns are measured on the first {min(n_reg, len(test_images))} test images in "
        f"batches of {REG_BATCH} for every AE, whichever penalty it was trained with: mean latent activation, "
        f"the KL sparsity penalty Σ_j KL(ρ ‖ ρ̂_j) with ρ = {KL_RHO:g}, and the exact contractive penalty "
        "mean ‖∂h/∂x‖²_F (unweighted).\n\n"
        f"{table}\n\n![training loss curves](loss_curves.png)\n\n![reconstructions](reconstructions.png)"
    )
    return Section("overview", "Reconstruction, regularizers and training", text, metrics,
                   [Path("loss_curves.png"), Path("reconstructions.png")])

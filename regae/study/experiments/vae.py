"""Experiment 10: a variational AE in the same framework as the other AEs.

Arch ``vae`` (regae.nets.vae) with the ``vae_kl`` regularizer: loss = BCE (mean over pixels)
+ (1/784)·KL(q(z|x) ‖ N(0, I)), i.e. the negative ELBO per pixel. Its checkpoint is saved
under ``OUT/checkpoints/vae.ckpt`` so ``regae report --ckpt`` can put it next to the sparse
and contractive AEs (t-SNE, interpolation, classifiers on μ).

Test-set numbers: per image, -ELBO = Σ_pixels BCE(x, D(z)) + KL, z ~ q(z|x) (one sample),
in nats; the active units are the code dimensions with Var_x(μ_j) > 0.01 (Burda et al.), a looser
count than the dimensions whose mean KL exceeds 0.1 nats.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from regae.checkpoints.read import load
from regae.model.inference import psnr, reconstruct
from regae.regularizers.vae import gaussian_kl
from regae.reports.section import Section
from regae.reports.tables import image, number_table
from regae.study import curves, figures
from regae.study.compare import image_errors, pm, seeds_mean, seeds_psnr
from regae.study.runner import StudyContext, one_per_class
from regae.study.specs import VAE

KEY = "study_vae"
ACTIVE = 0.01
NAME = "VAE 784-512-256-(32, 32) / 32-256-512-784"
KL_USED = 0.1  # nats: a dimension carrying less KL than this holds almost no information about x


@torch.no_grad()
def elbo_terms(model, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Per-image (N,) reconstruction term Σ BCE, KL, and their sum -ELBO, with one posterior sample."""
    model.eval()
    device = next(model.parameters()).device
    mu, logvar = model.net.posterior(x.to(device))
    mu, logvar = mu.cpu(), logvar.cpu()
    z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator)
    x_hat = model.decode(z.to(device)).cpu().clamp(1e-7, 1 - 1e-7)
    recon = F.binary_cross_entropy(x_hat, x, reduction="none").flatten(1).sum(1)
    kl = gaussian_kl(mu, logvar)
    return {"recon": recon, "kl": kl, "neg_elbo": recon + kl, "mu": mu, "logvar": logvar}


def run(ctx: StudyContext) -> list[Section]:
    x_test, y_test = ctx.test_set()
    runs = ctx.fit_seeds(NAME, "vae", **VAE)
    model = runs[0].model
    ckpt = ctx.out / "checkpoints" / "vae.ckpt"
    runs[0].save_checkpoint(ckpt)
    reloaded = load(ckpt)  # the report loads it the same way; fail here, not there
    per_seed = [elbo_terms(r.model, x_test, torch.Generator().manual_seed(ctx.seed + 10)) for r in runs]
    terms = per_seed[0]
    mu = terms["mu"]
    kl_per_dim = (-0.5 * (1 + terms["logvar"] - mu.pow(2) - terms["logvar"].exp())).mean(0)  # (d,)
    active = int((mu.var(0) > ACTIVE).sum())
    kl_used = int((kl_per_dim > KL_USED).sum())
    x_hat = reconstruct(model, x_test)
    metrics = {
        "budget": ctx.budget("vae").describe(), "checkpoint": str(ckpt.relative_to(ctx.out)),
        "test_neg_elbo_nats": float(terms["neg_elbo"].mean()), "test_recon_nats": float(terms["recon"].mean()),
        "test_kl_nats": float(terms["kl"].mean()), "test_psnr_mean_code": float(psnr(x_hat, x_test)),
        "over_seeds": {k: seeds_mean([float(t[k].mean()) for t in per_seed]) for k in ("neg_elbo", "recon", "kl")}
        | {"psnr_mean_code": seeds_psnr(np.stack([image_errors(reconstruct(r.model, x_test), x_test) for r in runs]))},
        "training": curves.records({NAME: runs}),
        "active_units": active, "dimensions_kl_above_0.1": kl_used, "latent_dim": model.latent_dim, "kl_per_dim": kl_per_dim.tolist(),
        "reloaded_matches": bool(torch.allclose(reconstruct(reloaded, x_test[:64]), x_hat[:64], atol=1e-6)),
    }
    learn_md, learn_rel = curves.section_block(ctx, KEY, {NAME: runs}, "VAE")
    idx = one_per_class(y_test)
    prior = torch.randn(20, model.latent_dim, generator=torch.Generator().manual_seed(ctx.seed + 11))
    with torch.no_grad():
        samples = model.decode(prior.to(next(model.parameters()).device)).cpu()
    grid_path, grid_rel = ctx.figure_path(KEY, "reconstructions-and-samples.png")
    figures.image_rows(grid_path, [("original", x_test[idx]), ("VAE D(μ)", x_hat[idx]),
                                   ("D(z), z~N(0,I)", samples[:10]), ("D(z), z~N(0,I) ", samples[10:])],
                       title="VAE reconstructions and samples decoded from the prior")
    kl_path, kl_rel = ctx.figure_path(KEY, "kl-per-dimension.png")
    figures.bars(kl_path, {str(j): float(v) for j, v in enumerate(kl_per_dim)}, "mean KL (nats)",
                 f"KL per code dimension on the test set ({kl_used} of {model.latent_dim} above {KL_USED} nats)", annotate="")
    md = "\n\n".join([
        "A variational AE in the regae framework: `arch: vae` (encoder 784-512-256 → μ, log σ² ∈ R³², decoder "
        "32-256-512-784, sigmoid output), trained with the reparameterisation z = μ + σ ⊙ ε and the `vae_kl` "
        "regularizer KL(N(μ, σ²) ‖ N(0, I)) = -½ Σ_j (1 + log σ_j² − μ_j² − σ_j²) weighted 1/784 next to the "
        "per-pixel BCE: the negative ELBO per pixel. `encode(x)` returns μ, so the report's t-SNE, "
        f"interpolation and classifiers treat it like the other AEs (checkpoint: `{metrics['checkpoint']}`).",
        ctx.budget_text("vae"),
        number_table(["test quantity (per image)", f"value (mean ± std over {len(runs)} seed(s))"], [
            ["−ELBO (nats, one sample)", pm(metrics["over_seeds"]["neg_elbo"])],
            ["reconstruction term Σ BCE (nats)", pm(metrics["over_seeds"]["recon"])],
            ["KL to N(0, I) (nats)", pm(metrics["over_seeds"]["kl"])],
            ["PSNR of D(μ) (dB)", pm(metrics["over_seeds"]["psnr_mean_code"])],
            [f"active units (Var_x μ_j > {ACTIVE})", f"{active} / {model.latent_dim}"],
            [f"dimensions with mean KL > {KL_USED} nats", f"{kl_used} / {model.latent_dim}"],
        ]),
        "Unlike a plain AE, the decoder has been trained on codes spread like the prior, so decoding z ~ N(0, I) "
        "gives digit-like images; the KL per dimension shows how many code dimensions the VAE actually uses.",
        "Active units and KL per dimension: first seed. For comparison, the negative ELBO of a VAE of this kind on "
        "binarized MNIST is reported near 85–100 nats (Kingma & Welling 2014, Fig. 2; Burda et al. 2016); our pixels "
        "are grey levels, so the BCE term is not the same quantity and is higher.",
        learn_md,
        image(grid_rel, "VAE reconstructions and prior samples"),
        image(kl_rel, "KL per latent dimension"),
    ])
    return [Section(KEY, "Variational autoencoder", md, metrics, [learn_rel, grid_rel, kl_rel])]

"""Principal component analysis as a linear autoencoder: the baseline every AE must beat.

With the centred data X - μ (N, 784) and its covariance C = (1/N) Σ (x - μ)(x - μ)ᵀ with
eigenpairs (λ_j, v_j), λ_1 ≥ λ_2 ≥ ..., the k-component code is h = V_kᵀ (x - μ) and the
reconstruction x̂ = μ + V_k h. On the data it was fitted to, the mean squared error per
pixel is exactly Σ_{j>k} λ_j / 784 (the variance PCA leaves out).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from regae.threads.count import threads


class PCA(NamedTuple):
    mean: Tensor  # (D,)
    components: Tensor  # (k, D), orthonormal rows, by decreasing variance
    eigenvalues: Tensor  # (D,) all eigenvalues of the covariance, decreasing


def fit_pca(x: Tensor, k: int) -> PCA:
    """Fit k components to x (N, ...) flattened to (N, D); the eigendecomposition runs in float64."""
    flat = x.flatten(1).double()  # (N, D)
    if not 1 <= k <= flat.shape[1]:
        raise ValueError(f"Expected `k` in [1, {flat.shape[1]}], got {k}.")
    mean = flat.mean(0)
    centred = flat - mean
    cov = centred.T @ centred / flat.shape[0]  # (D, D)
    with threads(1):  # a 784x784 eigh is fastest on one thread; several stall on a busy machine
        evals, evecs = torch.linalg.eigh(cov)  # ascending
    evals, evecs = evals.flip(0).clamp_min(0), evecs.flip(1)
    return PCA(mean.float(), evecs[:, :k].T.contiguous().float(), evals.float())


def truncate(p: PCA, k: int) -> PCA:
    """The first k components of a fit (fit once with the largest k, truncate for the rest)."""
    if not 1 <= k <= p.components.shape[0]:
        raise ValueError(f"Expected `k` in [1, {p.components.shape[0]}], got {k}.")
    return PCA(p.mean, p.components[:k], p.eigenvalues)


def pca_encode(p: PCA, x: Tensor) -> Tensor:
    """h = V_kᵀ (x - μ): (N, ...) -> (N, k)."""
    return (x.flatten(1) - p.mean) @ p.components.T


def pca_reconstruct(p: PCA, x: Tensor) -> Tensor:
    """x̂ = μ + V_k V_kᵀ (x - μ), same shape as x (not clipped)."""
    return (p.mean + pca_encode(p, x) @ p.components).view_as(x)


def residual_variance(p: PCA) -> float:
    """Σ_{j>k} λ_j / D: the fitted data's per-pixel MSE of the k-component reconstruction."""
    k, d = p.components.shape
    return float(p.eigenvalues[k:].sum() / d)

"""PCA as a linear AE: closed-form error, monotone in the number of components."""

import pytest
import torch

from regae.data.mnist import load_split, to_float
from regae.study.pca import fit_pca, pca_encode, pca_reconstruct, residual_variance, truncate


@pytest.fixture(scope="module")
def digits():
    return to_float(load_split("train").images[:1000])


def test_train_error_equals_left_out_variance(digits):
    full = fit_pca(digits, 60)
    for k in (1, 10, 30, 60):
        p = truncate(full, k)
        err = (pca_reconstruct(p, digits) - digits).pow(2).mean().item()
        assert err == pytest.approx(residual_variance(p), rel=1e-3)


def test_error_decreases_with_components(digits):
    test = to_float(load_split("test").images[:500])
    full = fit_pca(digits, 100)
    errors = [(pca_reconstruct(truncate(full, k), test) - test).pow(2).mean().item() for k in (5, 10, 20, 30, 50, 100)]
    assert all(a > b for a, b in zip(errors, errors[1:]))
    # total variance / 784 is the error of the mean image alone (k = 0)
    assert errors[0] < float(full.eigenvalues.sum() / 784)


def test_components_orthonormal_and_full_rank_is_exact():
    x = torch.randn(50, 6, generator=torch.Generator().manual_seed(0)) @ torch.randn(6, 6)
    p = fit_pca(x, 6)
    assert torch.allclose(p.components @ p.components.T, torch.eye(6), atol=1e-5)
    assert torch.allclose(pca_reconstruct(p, x), x, atol=1e-4)
    h = pca_encode(p, x)
    # code variances are the eigenvalues (population variance), in decreasing order
    assert torch.allclose(h.var(0, unbiased=False), p.eigenvalues, rtol=1e-3, atol=1e-5)
    assert torch.all(p.eigenvalues[:-1] >= p.eigenvalues[1:])


def test_bad_k():
    with pytest.raises(ValueError, match=r"Expected `k` in \[1, 4\], got 5"):
        fit_pca(torch.zeros(3, 4), 5)


def test_why_missed_reads_the_curve():
    """A rising curve blames the budget; a flat one with a significant train/validation gap blames
    generalisation; a flat one without a gap says the net converged below the target."""
    from regae.study.convergence import gap_text
    from regae.study.experiments.pca_vs_ae import why_missed

    gap = {"estimate": 2.71, "ci_low": 2.59, "ci_high": 2.82, "p": 1e-4, "n_boot": 10_000}
    assert "still rising (+0.60 dB" in why_missed(0.6, gap) and "The full level trains longer." in why_missed(0.6, gap)
    flat_gap = why_missed(0.05, gap)
    assert "generalisation gap" in flat_gap and "at least 2.59 dB" in flat_gap and "rising" not in flat_gap
    assert "21.40 dB" in flat_gap  # the regularized pilots' evidence goes with the gap, and only there
    none = {**gap, "estimate": 0.1, "ci_low": -0.1, "p": 0.3}
    assert "have converged below it" in why_missed(0.05, none)
    assert gap_text(gap) == "2.71 dB higher on the training images (95 % CI [+2.59, +2.82] dB, p < 2.0e-04)"
    assert gap_text(none).startswith("no significant difference (+0.10 dB")

import torch

from regae import load, load_split
from regae.analysis.interpolation import DEFAULT_ALPHAS
from regae.analysis.pairs import draw_pairs, run_pairs, summary
from regae.data.mnist import to_float


def test_pairs_are_from_different_classes_and_fixed_by_seed():
    labels = load_split("test").labels
    pairs = draw_pairs(labels, 20, seed=0)
    assert pairs.shape == (20, 2)
    assert (labels[pairs[:, 0]] != labels[pairs[:, 1]]).all()
    assert torch.equal(pairs, draw_pairs(labels, 20, seed=0))
    assert not torch.equal(pairs, draw_pairs(labels, 20, seed=1))


def test_pairs_need_two_classes():
    import pytest

    from regae.errors import DataError

    with pytest.raises(DataError, match="two classes"):
        draw_pairs(torch.zeros(10, dtype=torch.long), 3)


def test_every_ae_interpolates_the_same_pairs_and_endpoints_agree(ckpts):
    test = load_split("test")
    pairs = draw_pairs(test.labels, 20, seed=0)
    for path in ckpts.values():
        model = load(path)
        r = run_pairs(model, test.images, pairs)
        # the pixel route at α=1 / α=0 decodes exactly image 1 / image 2 of each drawn pair
        with torch.no_grad():
            first = model(to_float(test.images[pairs[:, 0]])).x_hat
            second = model(to_float(test.images[pairs[:, 1]])).x_hat
        assert torch.allclose(r.pixel[:, -1], first, atol=1e-5)
        assert torch.allclose(r.pixel[:, 0], second, atol=1e-5)
        # α = 0, 1: both routes identical -> PSNR inf, distance exactly 0
        for k in (0, len(DEFAULT_ALPHAS) - 1):
            assert torch.equal(r.pixel[:, k], r.latent[:, k])
            assert torch.isinf(r.psnr[:, k]).all() and (r.psnr[:, k] > 0).all()
            assert (r.dist[:, k] == 0).all()
        # interior α: the two routes differ (finite PSNR, positive distance)
        assert torch.isfinite(r.psnr[:, 1:-1]).all() and (r.dist[:, 1:-1] > 0).all()
        # PSNR equals 10 log10(1 / MSE) recomputed by hand
        mse = (r.pixel[:, 2] - r.latent[:, 2]).pow(2).flatten(1).mean(1)
        assert torch.allclose(r.psnr[:, 2], 10 * torch.log10(1 / mse), rtol=1e-4)
        rows = summary(r)
        assert rows[0]["psnr_db"] == {"mean": float("inf"), "std": None}
        assert rows[0]["latent_dist"] == {"mean": 0.0, "std": 0.0}
        assert abs(rows[2]["psnr_db"]["mean"] - r.psnr[:, 2].double().mean().item()) < 1e-4

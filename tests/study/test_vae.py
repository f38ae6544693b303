"""The VAE pieces: KL closed form, reparameterised latent, regularizer wiring, checkpoint."""

import lightning.pytorch as pl
import pytest
import torch
from torch.distributions import Normal, kl_divergence

import regae
from regae.data.mnist import load_split, to_float
from regae.errors import ConfigError
from regae.nets import build_net
from regae.regularizers import REGULARIZERS, build_regularizer
from regae.regularizers.vae import GaussianKL, gaussian_kl


def test_kl_hand_values():
    zero = torch.zeros(1, 3)
    assert gaussian_kl(zero, zero).item() == 0.0
    # μ = 1, σ = 1: ½ μ² = 0.5 per dimension
    assert gaussian_kl(torch.ones(1, 4), torch.zeros(1, 4)).item() == pytest.approx(2.0)
    # μ = 0, log σ² = log 4: -½ (1 + log 4 - 4) = 1.5 - log 2 per dimension
    assert gaussian_kl(torch.zeros(1, 1), torch.full((1, 1), 4.0).log()).item() == pytest.approx(1.5 - 0.6931472, abs=1e-6)


def test_kl_matches_torch_distributions_and_is_nonnegative(rng):
    mu = 3 * torch.randn(64, 8, generator=rng)
    logvar = 2 * torch.randn(64, 8, generator=rng)
    ours = gaussian_kl(mu, logvar)
    theirs = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1)
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    assert ours.shape == (64,) and bool((ours >= 0).all())


def test_vae_net_contract(rng):
    net = build_net("vae", latent_dim=5, widths=[16])
    x = torch.rand(4, 1, 28, 28, generator=rng)
    mu, logvar = net.posterior(x)
    assert mu.shape == logvar.shape == (4, 5)
    assert torch.equal(net.encode(x), mu)  # the deterministic code is μ
    net.eval()
    out = net(x)
    assert torch.equal(out.h, mu) and out.x_hat.shape == (4, 1, 28, 28)
    assert torch.allclose(out.x_hat, net.decode(mu))
    net.train()
    torch.manual_seed(0)
    a = net(x).h
    torch.manual_seed(0)
    eps = torch.randn_like(mu)
    assert torch.allclose(a, mu + (0.5 * logvar).exp() * eps, atol=1e-6)  # z = μ + σ ε
    assert not torch.allclose(a, mu)


def test_regularizer_registered_and_checked():
    assert REGULARIZERS["vae_kl"] is GaussianKL
    reg = build_regularizer({"name": "vae_kl", "weight": 1 / 784})
    with pytest.raises(ConfigError, match="needs arch 'vae'"):
        reg.check(build_net("mlp", latent_dim=4), "none")
    with pytest.raises(ConfigError, match="needs arch 'vae'"):
        regae.AutoEncoder(arch="mlp", latent_dim=4, latent_activation="none", regularizers=[{"name": "vae_kl", "weight": 1.0}])
    with pytest.raises(ConfigError, match="latent_activation='none' for arch 'vae'"):
        regae.AutoEncoder(arch="vae")


def test_regularizer_value_is_mean_kl_of_posterior(rng):
    net = build_net("vae", latent_dim=3, widths=[8])
    x = torch.rand(6, 1, 28, 28, generator=rng)
    mu, logvar = net.posterior(x)
    value = GaussianKL(1.0)(net, x, net(x).h)
    expected = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)).mean()
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)


def test_trains_and_round_trips_through_a_checkpoint(tmp_path):
    pl.seed_everything(0, verbose=False)
    model = regae.AutoEncoder(arch="vae", widths=[32], latent_dim=4, latent_activation="none", loss="bce",
                              regularizers=[{"name": "vae_kl", "weight": 1 / 784}])
    data = regae.MNISTDataModule(batch_size=32, limit_train=128, limit_test=64)
    trainer = pl.Trainer(max_steps=4, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0)
    trainer.fit(model, datamodule=data)
    path = tmp_path / "vae.ckpt"
    trainer.save_checkpoint(path)
    loaded = regae.load(path)
    assert loaded.hparams.arch == "vae" and loaded.latent_dim == 4
    x = to_float(load_split("test").images[:8])
    model.eval()
    assert torch.allclose(loaded.encode(x), model.encode(x))
    assert torch.allclose(loaded(x).x_hat, model(x).x_hat)

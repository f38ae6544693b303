"""The LightningModule: loss composition, denoising target, PSNR, non-finite stop."""

import math

import lightning.pytorch as pl
import pytest
import torch

from regae import AutoEncoder, MNISTDataModule
from regae.errors import ConfigError, NonFiniteLossError


def batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.zeros(n, dtype=torch.long)


def test_loss_is_recon_plus_weighted_terms():
    model = AutoEncoder(arch="mlp", widths=[16], latent_dim=4, regularizers=[
        {"name": "l1", "weight": 0.3}, {"name": "contractive", "weight": 2.0, "mode": "exact"},
        {"name": "kl", "weight": 0.5, "rho": 0.1}])
    loss, out, terms = model._shared_step(batch(), "train")
    expected = terms["recon"] + 0.3 * terms["reg/l1"] + 2.0 * terms["reg/contractive"] + 0.5 * terms["reg/kl"]
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    x = batch()[0]
    assert terms["recon"].item() == pytest.approx(torch.mean((model(x).x_hat - x) ** 2).item(), rel=1e-6)
    # validation has no penalties
    _, _, val_terms = model._shared_step(batch(), "val")
    assert set(val_terms) == {"recon", "loss"}


def test_denoising_compares_against_clean_target():
    model = AutoEncoder(arch="mlp", widths=[16], latent_dim=4, corrupt="gaussian:0.5", seed=3)
    x, y = batch()
    _, out, terms = model._shared_step((x, y), "train")
    noisy = model.corruption(x, model.step_generator())  # same (seed, step) -> same noise
    assert not torch.allclose(noisy, x)
    assert torch.allclose(out.x_hat, model(noisy).x_hat)
    assert terms["recon"].item() == pytest.approx(torch.mean((out.x_hat - x) ** 2).item(), rel=1e-6)


def test_bce_loss():
    model = AutoEncoder(arch="mlp", widths=[], latent_dim=8, loss="bce")
    x = batch()[0]
    x_hat = model(x).x_hat
    manual = -(x * torch.log(x_hat) + (1 - x) * torch.log(1 - x_hat)).mean()
    assert model._shared_step((x, None), "val")[2]["recon"].item() == pytest.approx(manual.item(), rel=1e-5)


def test_non_finite_names_step_and_term():
    model = AutoEncoder(arch="mlp", widths=[], latent_dim=4, regularizers=[{"name": "l1", "weight": 1.0}])
    with torch.no_grad():
        model.net.decoder.net[0].weight.fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match=r"step 0 .*non-finite recon"):
        model.training_step(batch(), 0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lr": 0.0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"loss": "l2"}, "loss"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"latent_activation": "relu", "regularizers": [{"name": "kl", "weight": 1e-3}]}, "KL sparsity needs"),
        ({"corrupt": "gaussian:-1"}, "gaussian level"),
    ],
)
def test_validation_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        AutoEncoder(**kwargs)


@pytest.mark.parametrize("name, cls", [("adam", torch.optim.Adam), ("adadelta", torch.optim.Adadelta),
                                       ("sgd", torch.optim.SGD)])
def test_optimizers(name, cls):
    opt = AutoEncoder(arch="mlp", widths=[], optimizer=name, lr=0.1, weight_decay=0.01, momentum=0.9
                      if name == "sgd" else 0.0).configure_optimizers()
    assert isinstance(opt, cls) and opt.defaults["lr"] == 0.1 and opt.defaults["weight_decay"] == 0.01


def test_training_reduces_loss_and_psnr_matches_mse(tmp_path):
    pl.seed_everything(0)
    model = AutoEncoder(arch="mlp", widths=[64], latent_dim=16, latent_activation="relu", lr=3e-3,
                        regularizers=[{"name": "contractive", "weight": 1e-4, "mode": "hutchinson"}])
    dm = MNISTDataModule(batch_size=64, limit_train=1024, limit_test=256)
    trainer = pl.Trainer(max_steps=150, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path, num_sanity_val_steps=0)
    trainer.fit(model, dm)
    first, last = model.loss_history[0][1], model.loss_history[-1][1]
    assert last < 0.6 * first
    result = trainer.test(model, dm, verbose=False)[0]
    # PSNR over the whole test subset is 10 log10(1 / MSE) of all its pixels.
    x = dm.test[0].unsqueeze(1).float() / 255
    with torch.no_grad():
        mse = torch.mean((model.eval()(x).x_hat - x) ** 2).item()
    assert result["test/psnr"] == pytest.approx(10 * math.log10(1 / mse), abs=1e-3)
    assert result["test/psnr"] > 13.5  # the mean image scores ~11.5 dB


VAE = dict(arch="vae", widths=[32], latent_dim=4, latent_activation="none", loss="bce",
           regularizers=[{"name": "vae_kl", "weight": 0.01}])


def test_vae_noise_is_the_step_generator_s_not_the_global_rng():
    model = AutoEncoder(seed=3, **VAE)
    x, y = batch()
    torch.manual_seed(0)
    _, first, _ = model._shared_step((x, y), "train")
    torch.manual_seed(12345)  # the global generator does not matter
    _, again, _ = model._shared_step((x, y), "train")
    assert torch.equal(first.x_hat, again.x_hat)
    assert torch.equal(first.x_hat, model.net(x, generator=model.step_generator()).x_hat)  # ε from (seed, step)
    other = AutoEncoder(seed=4, **VAE)
    other.load_state_dict(model.state_dict())
    assert not torch.allclose(other._shared_step((x, y), "train")[1].x_hat, first.x_hat)  # another seed, other ε


def test_a_resumed_vae_run_repeats_the_uninterrupted_one(tmp_path):
    """Stopped after 4 of 8 steps (mid-epoch) and resumed, a VAE reaches the weights of the run that was
    not stopped: its sampling noise is a function of (seed, step), like every other per-step noise."""
    from tests.support.helpers import interrupted_and_resumed

    straight, resumed = interrupted_and_resumed(
        tmp_path, "--model.arch", "vae", "--model.widths", "[32]", "--model.latent_dim", "4", "--model.latent_activation",
        "none", "--model.loss", "bce", "--model.regularizers", '[{"name": "vae_kl", "weight": 0.01}]')
    for name, w in straight.items():
        assert torch.allclose(w, resumed[name], atol=1e-6), name

"""The training step's fast paths compute what the slow ones did (no timings here: benchmarks/).

* The VAE's KL term reads (μ, log σ²) from the forward's output instead of running the
  encoder a second time: same loss (equal to the value the two-pass code gave, recorded
  before the change) and same gradients, and the encoder runs once per step.
* Adam is the fused kernel, Adadelta/SGD the ``foreach`` one: the same updates as torch's
  reference loop, to float rounding.
* The per-step ``self.log`` only runs on the steps whose values reach a logger: the logger
  still receives every value it wrote before, each equal to that step's loss.
"""

from __future__ import annotations

import csv

import lightning.pytorch as pl
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import CSVLogger

from regae import AutoEncoder, MNISTDataModule
from regae.model.optimizers import OPTIMIZERS
from regae.regularizers.vae import gaussian_kl

VAE = dict(arch="vae", widths=[64, 32], latent_dim=8, latent_activation="none", loss="bce",
           regularizers=[{"name": "vae_kl", "weight": 1 / 784}])
# _shared_step of VAE above in float64 (model seed 1, x seed 0, ε from a generator seeded 2), computed by
# the two-pass code (KL through model.posterior(x)) before the single-pass change
OLD_VAE = {"recon": 0.69502017887462286, "reg/vae_kl": 0.068207975372274882, "loss": 0.69510717884320994}


@pytest.fixture()
def x() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(16, 1, 28, 28)


def vae_step(x: torch.Tensor) -> tuple[AutoEncoder, dict[str, torch.Tensor]]:
    torch.manual_seed(1)
    model = AutoEncoder(**VAE).double()
    model.step_generator = lambda: torch.Generator().manual_seed(2)  # ε as the recorded run drew it
    loss, _, terms = model._shared_step((x.double(), None), "train")
    loss.backward()
    return model, terms


def test_vae_loss_equals_the_two_pass_value_recorded_before_the_change(x):
    _, terms = vae_step(x)
    for name, value in OLD_VAE.items():
        assert terms[name].item() == pytest.approx(value, rel=1e-12, abs=0), name


def test_vae_single_pass_has_the_two_pass_loss_and_gradients(x):
    model, terms = vae_step(x)
    fast = [p.grad.clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    net, xd = model.net, x.double()
    out = net(xd, generator=torch.Generator().manual_seed(2))  # the same ε
    kl = gaussian_kl(*net.posterior(xd)).mean()  # the second encoder pass the old code made
    slow_loss = F.binary_cross_entropy(out.x_hat.clamp(1e-7, 1 - 1e-7), xd) + kl / 784
    slow_loss.backward()
    assert terms["reg/vae_kl"].item() == pytest.approx(kl.item(), rel=1e-14)
    assert terms["loss"].item() == pytest.approx(slow_loss.item(), rel=1e-14)
    for (name, _), a, p in zip(model.named_parameters(), fast, model.parameters()):
        assert torch.allclose(a, p.grad, rtol=1e-10, atol=1e-16), name


def test_vae_encoder_runs_once_per_training_step(x):
    model = AutoEncoder(**VAE)
    calls = []
    model.net.encoder.head.register_forward_hook(lambda *_: calls.append(1))  # the (μ, log σ²) layer
    model._shared_step((x, None), "train")
    assert len(calls) == 1
    # the regularizer alone (analysis code: no forward output at hand) still works, with its own pass
    reg = model.regularizers[0]
    with torch.no_grad():
        h = model.net.encode(x)
        assert torch.allclose(reg(model.net, x, h), gaussian_kl(*model.net.posterior(x)).mean())


@pytest.mark.parametrize("name", ["adam", "sgd", "adadelta"])
def test_optimizers_take_the_reference_loop_s_steps(x, name):
    """The fast optimizer implementation = torch's per-tensor loop, 5 steps, float64 rounding.

    (In float32 they differ by at most ~2e-7 after 5 steps at lr 1e-2: rounding of the fused kernel.)
    """
    kw = dict(arch="mlp", widths=[64], latent_dim=8, latent_activation="none", optimizer=name, lr=1e-2,
              momentum=0.9 if name == "sgd" else 0.0, weight_decay=1e-4)
    torch.manual_seed(1)
    fast = AutoEncoder(**kw).double()
    start = {k: v.clone() for k, v in fast.state_dict().items()}
    slow = AutoEncoder(**kw).double()
    slow.load_state_dict(start)
    x = x.double()
    opt_fast = fast.configure_optimizers()
    assert opt_fast.defaults["fused" if name == "adam" else "foreach"] is True
    hp = fast.hparams
    extra = {"momentum": hp.momentum} if name == "sgd" else {}
    opt_slow = OPTIMIZERS[name](slow.parameters(), lr=hp.lr, weight_decay=hp.weight_decay, foreach=False, **extra)
    for _ in range(5):
        for model, opt in ((fast, opt_fast), (slow, opt_slow)):
            loss, _, _ = model._shared_step((x, None), "train")
            opt.zero_grad()
            loss.backward()
            opt.step()
    for (name_, a), b in zip(fast.named_parameters(), slow.parameters()):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-15), name_
        assert not torch.equal(a, start[name_])  # it did move


class LogsEveryStep(AutoEncoder):
    """The training step as it was: ``self.log`` on every step."""

    def _logs_written_this_step(self) -> bool:
        return True


def fit_logged(cls: type[AutoEncoder], root) -> tuple[AutoEncoder, pl.Trainer, list[dict[str, str]]]:
    torch.manual_seed(0)
    model = cls(arch="mlp", widths=[16], latent_dim=4, latent_activation="sigmoid", history_every=1,
                regularizers=[{"name": "l1", "weight": 1e-3}])
    trainer = pl.Trainer(max_steps=12, log_every_n_steps=5, logger=CSVLogger(root, name="", version=""),
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         limit_val_batches=0)
    trainer.fit(model, MNISTDataModule(batch_size=32, val_size=0, limit_train=192))  # 6 steps per epoch
    return model, trainer, [r for r in csv.DictReader(open(root / "metrics.csv")) if r.get("train/loss")]


def test_loggers_get_what_they_got_when_every_step_logged(tmp_path):
    """log_every_n_steps=5 over 12 steps: the CSV logger gets steps 4 and 9 (Lightning's schedule),
    the same rows as with ``self.log`` on every step, each with that step's loss."""
    model, trainer, rows = fit_logged(AutoEncoder, tmp_path / "now")
    _, _, before = fit_logged(LogsEveryStep, tmp_path / "before")
    assert rows == before
    history = dict(model.loss_history)  # every step's loss
    assert [int(r["step"]) for r in rows] == [4, 9]
    for r in rows:
        step = int(r["step"])
        assert float(r["train/loss"]) == pytest.approx(history[step], rel=1e-6)
        assert float(r["train/recon"]) + 1e-3 * float(r["train/reg/l1"]) == pytest.approx(history[step], rel=1e-5)
    # callback_metrics (progress bar, launch's status.json) hold the last step's values at the end
    assert trainer.callback_metrics["train/loss"].item() == pytest.approx(history[11], rel=1e-6)


def fit_and_test(precision: str, arch: dict) -> tuple[float, torch.dtype]:
    """80 steps (Adam 3e-3) of a small net on 1,280 MNIST images, then its test PSNR and the output's dtype."""
    pl.seed_everything(0, verbose=False)
    model = AutoEncoder(seed=0, lr=3e-3, **arch)
    trainer = pl.Trainer(max_steps=80, precision=precision, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    data = MNISTDataModule(batch_size=32, val_size=0, limit_train=1280, limit_test=512)
    trainer.fit(model, data)
    (scores,) = trainer.test(model, data, verbose=False)
    with trainer.precision_plugin.forward_context():
        dtype = model.net(torch.rand(2, 1, 28, 28)).x_hat.dtype
    return scores["test/psnr"], dtype


@pytest.mark.parametrize("arch", [dict(arch="mlp", widths=[128], latent_dim=16, latent_activation="none"),
                                  dict(VAE)], ids=["mlp-mse", "vae-bce"])
def test_bf16_mixed_on_the_cpu_trains_like_float32(arch):
    """``--trainer.precision bf16-mixed`` (bfloat16 autocast on the CPU: the fast path on CPUs with
    native bfloat16, benchmarks/README.md): the net runs in bfloat16, the losses and PSNR in
    float32, and 80 steps reach the float32 run's test PSNR within 0.2 dB."""
    psnr32, dtype32 = fit_and_test("32-true", arch)
    psnr16, dtype16 = fit_and_test("bf16-mixed", arch)
    assert dtype32 == torch.float32 and dtype16 == torch.bfloat16
    assert psnr16 == pytest.approx(psnr32, abs=0.2), (psnr16, psnr32)
    assert psnr32 > 11.5  # past the mean image (about 10.6 dB): 12.1 (VAE) and 13.1 dB (MLP) measured

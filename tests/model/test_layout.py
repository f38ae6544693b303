"""Channels-last conv nets on the CPU (regae.model.layout): same numbers as NCHW, and no silent
misstep of fused Adam when a checkpoint's optimizer state has another layout."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch

from regae import AutoEncoder, MNISTDataModule, load_split
from regae.model.layout import CHANNELS_LAST, match_param_layouts, wants_channels_last

CONV = dict(arch="conv", decoder="deconv", latent_activation="none", loss="bce")


def adam_two_steps(param_layout, grad_layout, state_layout=None) -> torch.Tensor:
    torch.manual_seed(0)
    w0, g = torch.randn(16, 8, 3, 3), torch.randn(16, 8, 3, 3)
    p = torch.nn.Parameter(w0.contiguous(memory_format=param_layout))
    opt = torch.optim.Adam([p], lr=1e-2, fused=True)
    for i in (1, 2):
        p.grad = (g * i).contiguous(memory_format=grad_layout)
        opt.step()
        if state_layout is not None and i == 1:  # as a checkpoint of the other layout would restore it
            for k in ("exp_avg", "exp_avg_sq"):
                opt.state[p][k] = opt.state[p][k].contiguous(memory_format=state_layout)
            assert match_param_layouts(opt) == 2
    return p.detach().contiguous()


def test_fused_adam_needs_matching_layouts_and_match_param_layouts_gives_them() -> None:
    ref = adam_two_steps(torch.contiguous_format, torch.contiguous_format)
    assert torch.allclose(adam_two_steps(CHANNELS_LAST, CHANNELS_LAST), ref, atol=1e-6)
    # the hazard itself: a gradient (or state) of another layout is paired element by wrong element
    assert (adam_two_steps(CHANNELS_LAST, torch.contiguous_format) - ref).abs().max() > 1e-3
    # NCHW state restored into a channels-last net: relaid out, so the update is the reference one
    assert torch.allclose(adam_two_steps(CHANNELS_LAST, CHANNELS_LAST, torch.contiguous_format), ref, atol=1e-6)


def test_only_conv_nets_on_the_cpu_go_channels_last() -> None:
    conv, mlp = AutoEncoder(**CONV).net, AutoEncoder(arch="mlp", widths=[16], latent_dim=4).net
    assert wants_channels_last(conv, torch.device("cpu")) and wants_channels_last(AutoEncoder().net, torch.device("cpu"))
    assert not wants_channels_last(mlp, torch.device("cpu"))
    assert not wants_channels_last(conv, torch.device("cuda"))


def fit(tmp_path, steps: int, channels_last: bool, ckpt_path=None, **model):
    pl.seed_everything(0, verbose=False)
    ae = AutoEncoder(seed=0, **model)
    if not channels_last:
        ae.setup = lambda stage: None  # the NCHW reference
    trainer = pl.Trainer(max_steps=steps, logger=False, enable_progress_bar=False, enable_model_summary=False,
                         enable_checkpointing=False,
                         limit_val_batches=0, default_root_dir=tmp_path, num_sanity_val_steps=0)
    trainer.fit(ae, MNISTDataModule(batch_size=32, val_size=0, limit_train=256, shuffle_seed=0), ckpt_path=ckpt_path)
    return ae, trainer


@pytest.mark.parametrize("model", [CONV, dict(regularizers=[{"name": "contractive", "weight": 1e-3, "mode": "exact"}],
                                              widths=[4, 8, 8])], ids=["conv-bce", "unet-contractive-exact"])
def test_channels_last_trains_to_the_nchw_weights(tmp_path, model) -> None:
    cl, _ = fit(tmp_path / "cl", 6, True, **model)
    ref, _ = fit(tmp_path / "ref", 6, False, **model)
    weight = next(p for p in cl.net.parameters() if p.dim() == 4 and p.shape[1] > 1)  # C_in = 1: both layouts
    assert weight.is_contiguous(memory_format=CHANNELS_LAST) and not weight.is_contiguous()
    # the same function: a conv bias right before a GroupNorm has no true gradient (the norm removes
    # it), so Adam's steps on it are rounding noise that differs with the layout and changes nothing
    x = load_split("test").images[:64].unsqueeze(1).float() / 255
    with torch.no_grad():
        got, want = cl.net(x.contiguous(memory_format=CHANNELS_LAST)), ref.net(x)
    assert torch.allclose(got.h, want.h, atol=1e-5) and torch.allclose(got.x_hat, want.x_hat, atol=1e-5)
    assert (got.x_hat - x).pow(2).mean() < 0.99 * (ref_untrained(model)(x).x_hat - x).pow(2).mean()  # it trained


def ref_untrained(model):
    torch.manual_seed(0)
    return AutoEncoder(seed=0, **model).net


def test_resuming_an_nchw_checkpoint_into_channels_last_continues_it(tmp_path, monkeypatch) -> None:
    """An NCHW run saved at step 4 and resumed by channels-last code computes the function of an
    uninterrupted NCHW run, not the garbage of mismatched Adam states.

    Compared as functions, not weight by weight: the two layouts round differently, and Adam turns
    rounding noise on a near-zero gradient (a conv bias before a GroupNorm, a weight's scale that
    the norm removes) into steps of up to the learning rate, in directions the net ignores; how
    large they get depends on the CPU's kernels."""
    _, trainer = fit(tmp_path / "a", 4, False, **CONV)
    ckpt = tmp_path / "a.ckpt"
    trainer.save_checkpoint(ckpt)
    resumed, _ = fit(tmp_path / "b", 8, True, ckpt_path=ckpt, **CONV)
    ref, _ = fit(tmp_path / "c", 8, False, **CONV)
    import regae.model.autoencoder as module

    monkeypatch.setattr(module, "match_param_layouts", lambda optimizer: 0)  # the hazard: states left as saved
    garbage, _ = fit(tmp_path / "d", 8, True, ckpt_path=ckpt, **CONV)
    x = load_split("test").images[:64].unsqueeze(1).float() / 255
    with torch.no_grad():
        want = ref.net(x).x_hat
        off, off_garbage = (resumed.net(x).x_hat - want).abs(), (garbage.net(x).x_hat - want).abs()
    # measured here: max 1.2e-5 and mean 6.6e-6 resumed, mean 4.3e-4 with the states left mismatched
    assert off.max() < 1e-4 and off.mean() < 0.1 * off_garbage.mean(), (off.max(), off.mean(), off_garbage.mean())

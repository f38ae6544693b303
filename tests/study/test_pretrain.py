"""regae.study.pretrain: greedy layer-wise pre-training of an MLP autoencoder."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from regae.data.datamodule import MNISTDataModule
from regae.model.autoencoder import AutoEncoder
from regae.study.pretrain import layer_pairs, pretrain


def small_net():
    torch.manual_seed(0)
    return AutoEncoder(arch="mlp", widths=[64, 32], latent_dim=8, latent_activation="none").net


def images(n: int = 2000) -> torch.Tensor:
    data = MNISTDataModule(limit_train=n, val_size=100, split_seed=0)
    data.setup("fit")
    return data.train[0]


def test_each_encoder_layer_is_paired_with_its_mirror() -> None:
    pairs = layer_pairs(small_net())
    assert [(w.in_features, w.out_features, v.in_features, v.out_features) for w, _, v, _ in pairs] == [
        (784, 64, 64, 784), (64, 32, 32, 64), (32, 8, 8, 32)]
    assert [type(f) for _, f, _, _ in pairs] == [nn.ReLU, nn.ReLU, nn.Identity]  # the code is linear here
    assert [type(g) for _, _, _, g in pairs] == [nn.Sigmoid, nn.ReLU, nn.ReLU]  # pixels come out of a sigmoid


def test_a_conv_net_is_refused() -> None:
    with pytest.raises(ValueError, match="MLP autoencoder"):
        layer_pairs(AutoEncoder(arch="unet", widths=[4, 8, 8]).net)
    with pytest.raises(ValueError, match="epochs"):
        pretrain(small_net(), images(100), 0)


def test_pretraining_beats_the_mean_layer_by_layer_and_end_to_end() -> None:
    """After pre-training, each layer's shallow AE reconstructs its input (the images, then the
    codes of the layer below) better than that input's mean does (the best constant: its MSE is
    the mean per-unit variance), and the stacked net, before any end-to-end training, is far
    closer to the images than at its random start."""
    x = images()
    flat = x.flatten(1).float() / 255
    net = small_net()
    with torch.no_grad():
        before = float(nn.functional.mse_loss(net.decode(net.encode(x.float() / 255)).flatten(1), flat))
    losses = pretrain(net, x, epochs=5, lr=3e-3, batch_size=64)
    inputs = [flat]
    with torch.no_grad():
        for w, f, _, _ in layer_pairs(net)[:-1]:
            inputs.append(f(w(inputs[-1])))
    mean_mse = [float(z.var(dim=0, unbiased=False).mean()) for z in inputs]  # images: about 0.067 on MNIST
    assert 0.06 < mean_mse[0] < 0.075
    assert all(loss < 0.8 * m for loss, m in zip(losses, mean_mse)), (losses, mean_mse)
    with torch.no_grad():
        after = float(nn.functional.mse_loss(net.decode(net.encode(x.float() / 255)).flatten(1), flat))
    assert after < 0.5 * before and after < mean_mse[0], (before, after, mean_mse[0])


def plain_pretrain_before_corruption_existed(net, images, epochs, lr, batch_size, seed):
    """The pre-training loop as it was before ``corrupt`` existed, copied here: ``corrupt=None`` must match it
    bit for bit (the hinton2006 runs and their cache depend on it)."""
    x = (images.float() / 255).flatten(1)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for w, f, v, g in layer_pairs(net):
        opt = torch.optim.Adam([*w.parameters(), *v.parameters()], lr=lr)
        for _ in range(epochs):
            total, batches = torch.zeros(()), 0
            for idx in torch.randperm(len(x), generator=gen).split(batch_size):
                xb = x[idx]
                loss = nn.functional.mse_loss(g(v(f(w(xb)))), xb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach()
                batches += 1
        losses.append(float(total) / batches)
        with torch.no_grad():
            x = torch.cat([f(w(part)) for part in x.split(4096)])
    return losses


def test_without_corruption_pretraining_is_the_plain_loop_bit_for_bit() -> None:
    x = images(600)
    ours, reference = small_net(), small_net()
    losses = pretrain(ours, x, epochs=2, lr=3e-3, batch_size=64, seed=3, corrupt=None)
    assert losses == plain_pretrain_before_corruption_existed(reference, x, 2, 3e-3, 64, 3)
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), reference.state_dict().values()))


def first_layer_inputs(net) -> list[torch.Tensor]:
    """Record what the first encoder layer sees while it trains (the clean passes that make the next layer's
    codes run without gradients and are left out)."""
    seen: list[torch.Tensor] = []
    layer_pairs(net)[0][0].register_forward_pre_hook(
        lambda module, args: seen.append(args[0].detach().clone()) if torch.is_grad_enabled() else None)
    return seen


def test_masking_noise_corrupts_each_layers_input_and_the_loss_is_against_the_clean_one() -> None:
    x = images(1000)
    flat = x.flatten(1).float() / 255
    mean_mse = float(flat.var(dim=0, unbiased=False).mean())  # the best constant reconstruction's MSE, about 0.067
    zeros = float((flat == 0).float().mean())  # MNIST: about 81 % of the pixels are 0

    net = small_net()  # masking:0.5: a pixel the layer sees is 0 if it was, or with probability 1/2 if it was not
    seen = first_layer_inputs(net)
    pretrain(net, x, epochs=1, batch_size=100, corrupt="masking:0.5")
    assert float((torch.cat(seen) == 0).float().mean()) == pytest.approx(zeros + (1 - zeros) * 0.5, abs=0.005)

    net, before = small_net(), small_net()
    seen = first_layer_inputs(net)
    losses = pretrain(net, x, epochs=3, lr=3e-3, batch_size=32, corrupt="masking:1.0")
    assert all((s == 0).all() for s in seen) and len(seen) == 3 * 32  # 3 epochs of ceil(1000 / 32) batches
    # every layer's input is all zeros, so no W_k gets a gradient (Adam moves nothing), while the biases learn
    for (w, _, v, _), (w0, _, v0, _) in zip(layer_pairs(net), layer_pairs(before)):
        assert torch.equal(w.weight, w0.weight) and not torch.equal(w.bias, w0.bias)
        assert not torch.equal(v.bias, v0.bias)
    # from zeros the best a layer can do is a constant; measured against the clean images it cannot beat their
    # mean (a loss against the corrupted zeros would go to 0)
    assert losses[0] >= 0.95 * mean_mse
    plain = pretrain(small_net(), x, epochs=3, lr=3e-3, batch_size=32)
    assert plain[0] < 0.8 * mean_mse < losses[0]


def test_a_bad_corruption_is_refused() -> None:
    from regae.errors import ConfigError

    with pytest.raises(ConfigError, match="masking level"):
        pretrain(small_net(), images(100), 1, corrupt="masking:1.5")

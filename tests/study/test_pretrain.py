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

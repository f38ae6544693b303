"""regae.model.classifier: a pre-trained encoder with a softmax layer, fine-tuned with labels."""

import numpy as np
import pytest
import torch

from regae import AutoEncoder
from regae.data.datamodule import ImageDataModule
from regae.errors import CheckpointError, ConfigError
from regae.model.classifier import EncoderClassifier
from regae.model.inference import classify
from regae.study.runner import EpochRecorder, train_model

TINY_AE = dict(arch="mlp", widths=[], latent_dim=16, tied=True, input_shape=(1, 8, 8))


def separable_npz(path, n=120):
    """Two classes no classifier can miss: ink in the top-left 3x3 corner, or in the bottom-right one."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 40, size=(n, 8, 8), dtype=np.uint8)
    labels = np.arange(n) % 2
    images[labels == 0, :3, :3] = 255
    images[labels == 1, -3:, -3:] = 255
    np.savez(path, images=images, labels=labels)
    return path


def test_from_autoencoder_copies_the_encoder_and_adds_a_softmax_layer():
    ae = AutoEncoder(**TINY_AE)
    clf = EncoderClassifier.from_autoencoder(ae, num_classes=3)
    x = torch.rand(5, 1, 8, 8)
    assert torch.equal(clf.encoder(x), ae.encode(x)) and clf(x).shape == (5, 3)
    with torch.no_grad():
        clf.encoder[1].weight.add_(1.0)
    assert not torch.equal(clf.encoder(x), ae.encode(x))  # a copy: fine-tuning leaves the autoencoder as it was


def test_fine_tuning_through_the_one_trainer_separates_a_separable_set(tmp_path):
    data = ImageDataModule(dataset=f"npz:{separable_npz(tmp_path / 'sep.npz')}", batch_size=16, val_size=16,
                           on_device=False)
    clf = EncoderClassifier(autoencoder=TINY_AE, num_classes=2, optimizer="adam", lr=0.05)
    recorder = EpochRecorder()
    train_model(clf, data, epochs=15, callbacks=[recorder])
    data.setup("test")
    test_images, test_labels = data.data.test.images, data.data.test.labels
    assert (classify(clf, test_images) == test_labels).all()
    assert recorder.val_acc[-1] == 1.0 and len(recorder.val_acc) == 15


def test_a_frozen_encoder_keeps_its_weights(tmp_path):
    data = ImageDataModule(dataset=f"npz:{separable_npz(tmp_path / 'sep.npz')}", batch_size=16, val_size=16,
                           on_device=False)
    clf = EncoderClassifier(autoencoder=TINY_AE, num_classes=2, optimizer="adam", lr=0.05, freeze_encoder=True)
    before = clf.encoder[1].weight.detach().clone()
    head = clf.head.weight.detach().clone()
    train_model(clf, data, epochs=2)
    assert torch.equal(clf.encoder[1].weight, before) and not torch.equal(clf.head.weight, head)


def test_the_checkpoint_rebuilds_the_classifier_and_is_not_an_autoencoder_s(tmp_path):
    from regae.checkpoints.read import read_checkpoint
    from regae.checkpoints.slim import save_model

    clf = EncoderClassifier(autoencoder=TINY_AE, num_classes=4, lr=0.3, momentum=0.9)
    save_model(clf, tmp_path / "c.ckpt")
    again = EncoderClassifier.from_checkpoint(read_checkpoint(tmp_path / "c.ckpt"))
    x = torch.rand(3, 1, 8, 8)
    assert torch.equal(again(x), clf(x)) and again.hparams.lr == 0.3
    with pytest.raises(CheckpointError, match="holds a 'classifier' model, not an autoencoder: regae finetune wrote"):
        import regae

        regae.load(tmp_path / "c.ckpt")
    ae = AutoEncoder(**TINY_AE)
    ckpt = {"state_dict": ae.state_dict(), "hyper_parameters": dict(ae.hparams)}
    ae.on_save_checkpoint(ckpt)
    with pytest.raises(CheckpointError, match="not a regae classifier"):
        EncoderClassifier.from_checkpoint(ckpt)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(num_classes=1), "num_classes"), (dict(optimizer="rmsprop"), "optimizer"), (dict(lr=0.0), "lr"),
    (dict(momentum=-1.0), "momentum"), (dict(lr_schedule="step"), "lr_schedule"),
])
def test_bad_settings_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        EncoderClassifier(autoencoder=TINY_AE, **kwargs)


def test_a_weights_only_checkpoint_keeps_the_data_record_it_is_given(tmp_path):
    from regae.checkpoints.read import data_record, read_checkpoint
    from regae.checkpoints.slim import save_model

    record = {"dataset": "npz:/data/x.npz", "shape": [1, 8, 8], "classes": ["a", "b"], "image_size": None,
              "channels": None}
    clf = EncoderClassifier(autoencoder=TINY_AE, num_classes=2)
    save_model(clf, tmp_path / "c.ckpt", record)
    assert data_record(tmp_path / "c.ckpt") == record  # where a data module puts it: every reader finds it
    again = EncoderClassifier.from_checkpoint(read_checkpoint(tmp_path / "c.ckpt"))
    x = torch.rand(3, 1, 8, 8)
    assert again.data_record == record and torch.equal(again(x), clf(x))
    save_model(clf, tmp_path / "bare.ckpt")
    assert EncoderClassifier.from_checkpoint(read_checkpoint(tmp_path / "bare.ckpt")).data_record is None

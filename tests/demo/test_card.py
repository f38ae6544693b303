"""demo.card: how a checkpoint was trained, read from the file."""

from __future__ import annotations

import shutil

import pytest
import torch

from demo.card import closest_preset, describe_model, preset_line, preset_models, read_card, training_line
from regae.errors import CheckpointError
from tests.demo.paths import DEFAULT, SLIM


def test_default_checkpoints_are_labelled_with_their_full_training():
    """demo/checkpoints: docs/report-full's 20-epoch runs of the sparse and contractive-hutchinson presets."""
    sparse, contractive = (read_card(n, DEFAULT / f"{n}.ckpt") for n in ("sparse", "contractive"))
    assert (sparse.preset, sparse.overrides) == ("sparse", {})
    assert (contractive.preset, contractive.overrides) == ("contractive-hutchinson", {})
    for card in (sparse, contractive):
        assert (card.step, card.epoch) == (8600, 19)
        assert training_line(card) == "8,600 steps (epoch 20), batch 128"
        assert describe_model(card.hparams).startswith("unet, d=32 sigmoid; ")
    assert preset_line(sparse) == "≈ `sparse`" and preset_line(contractive) == "≈ `contractive-hutchinson`"


def test_slim_checkpoints_name_their_closest_preset_and_training():
    sparse = read_card("sparse", SLIM / "sparse.ckpt")
    # demo/train_checkpoints.sh: --config sparse with --model.widths [8,16,32], 1200 steps
    assert (sparse.preset, sparse.preset_stored, sparse.overrides) == ("sparse", False, {"widths": [8, 16, 32]})
    assert (sparse.step, sparse.epoch) == (1200, 3)
    assert preset_line(sparse) == "≈ `sparse` with widths=[8, 16, 32]"
    assert training_line(sparse) == "1,200 steps (epoch 4)"
    assert describe_model(sparse.hparams) == "unet [8, 16, 32], d=32 sigmoid; kl(rho=0.05) ×0.001; mse, adam lr 0.001"
    # --config contractive with the regularizer switched to Hutchinson: that is the other preset's model
    contractive = read_card("contractive", SLIM / "contractive.ckpt")
    assert (contractive.preset, contractive.overrides) == ("contractive-hutchinson", {"widths": [8, 16, 32]})
    assert contractive.step == 1000


@pytest.mark.parametrize("name", sorted(preset_models()))
def test_every_preset_is_its_own_closest(name):
    assert closest_preset(preset_models()[name]) == (name, {})


def test_a_stored_preset_and_data_settings_are_taken_from_the_file(tmp_path):
    ckpt = torch.load(SLIM / "contractive.ckpt", weights_only=True)
    ckpt["demo_card"] = {"preset": "contractive"}
    ckpt["datamodule_hyper_parameters"] = {"batch_size": 64, "limit_train": 20000}
    torch.save(ckpt, tmp_path / "c.ckpt")
    card = read_card("c", tmp_path / "c.ckpt")
    assert card.preset == "contractive" and card.preset_stored
    assert card.overrides == {"regularizers": [{"name": "contractive", "weight": 0.0001, "mode": "hutchinson",
                                                "probes": 1}], "widths": [8, 16, 32]}
    assert preset_line(card).startswith("`contractive` with regularizers=")
    assert training_line(card) == "1,000 steps (epoch 4), batch 64, 20,000 training images"


def test_unusable_files_raise_checkpoint_errors(tmp_path):
    shutil.copy(SLIM / "sparse.ckpt", tmp_path / "s.ckpt")
    (tmp_path / "broken.ckpt").write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="corrupt"):
        read_card("broken", tmp_path / "broken.ckpt")
    with pytest.raises(CheckpointError, match="not found"):
        read_card("gone", tmp_path / "gone.ckpt")

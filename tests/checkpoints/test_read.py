"""A checkpoint alone rebuilds the model; bad files give one clear CheckpointError."""

import pickle

import pytest
import torch

import regae
from regae.errors import CheckpointError
from tests.support.helpers import fit_tiny


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return fit_tiny(tmp_path_factory.mktemp("run"), steps=3)


def test_load_rebuilds_model(ckpt):
    model = regae.load(ckpt)
    assert isinstance(model, regae.AutoEncoder) and not model.training
    assert model.hparams.arch == "unet" and model.latent_dim == 32
    raw = torch.load(ckpt, weights_only=True)
    for k, v in model.state_dict().items():
        assert torch.equal(v, raw["state_dict"][k])
    assert [s for s, _ in model.loss_history] == [0]
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(model(x).x_hat, regae.load(ckpt)(x).x_hat)


def test_missing(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        regae.load(tmp_path / "nope.ckpt")


def test_truncated(ckpt, tmp_path):
    bad = tmp_path / "trunc.ckpt"
    bad.write_bytes(ckpt.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        regae.load(bad)


def test_random_bytes(tmp_path):
    bad = tmp_path / "random.ckpt"
    bad.write_bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8).numpy().tobytes())
    with pytest.raises(CheckpointError, match="corrupt|not a torch file"):
        regae.load(bad)


def test_foreign_torch_file(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, other)
    with pytest.raises(CheckpointError, match="not a regae checkpoint"):
        regae.load(other)


class Payload:
    def __reduce__(self):
        return (print, ("code ran",))


def test_pickle_with_code_is_refused(tmp_path, capsys):
    evil = tmp_path / "evil.ckpt"
    torch.save({"regae": {}, "state_dict": {}, "x": Payload()}, evil)
    with pytest.raises(CheckpointError, match="refusing to load"):
        regae.load(evil)
    assert "code ran" not in capsys.readouterr().out
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(CheckpointError):
        regae.load(plain)
    assert "code ran" not in capsys.readouterr().out


def test_weights_only_copy_loads_the_same_model_and_is_smaller(tmp_path):
    from regae.checkpoints.slim import save_weights_only

    ckpt = fit_tiny(tmp_path / "run", steps=3)
    slim = save_weights_only(ckpt, tmp_path / "slim.ckpt")
    full, small = regae.load(ckpt), regae.load(slim)
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(full(x).x_hat, small(x).x_hat)
    assert small.loss_history == full.loss_history and small.data_record == full.data_record
    assert slim.stat().st_size < 0.6 * ckpt.stat().st_size  # no Adam moments
    assert "optimizer_states" not in regae.read_checkpoint(slim)


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    """mkstemp creates 0600 files; a checkpoint or report must get the mode any other saved file gets."""
    import os
    import stat

    from regae.checkpoints.write import atomic_write_bytes

    old = os.umask(0o022)
    try:
        atomic_write_bytes(b"x", tmp_path / "a.ckpt")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.ckpt").stat().st_mode) == 0o644

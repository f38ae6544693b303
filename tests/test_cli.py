"""The regae command: presets, help, one-line errors before training starts."""

import subprocess
import sys

import pytest

import regae
from tests.helpers import fit_tiny, run_cli


def test_overview_lists_commands_and_presets():
    code, out, _ = run_cli("--help")
    assert code == 0
    for word in ("fit", "compare", "report", "sparse", "contractive", "denoising", "undercomplete"):
        assert word in out


def test_presets_carry_seed_hyperparameters():
    import yaml

    from regae.cli import presets

    for name, reg in (("sparse", {"name": "kl", "weight": 1e-3, "rho": 0.05}),
                      ("contractive", {"name": "contractive", "weight": 1e-4, "mode": "exact"})):
        cfg = yaml.safe_load(presets()[name].read_text())
        assert cfg["model"]["arch"] == "unet" and cfg["model"]["latent_dim"] == 32
        assert cfg["model"]["lr"] == 1e-3 and cfg["data"]["batch_size"] == 128
        assert cfg["trainer"]["max_epochs"] == 20
        assert cfg["model"]["regularizers"] == [reg]


def test_fit_help_explains_model_options():
    code, out, _ = run_cli("fit", "--help")
    assert code == 0
    assert "--model.regularizers" in out and "--config" in out


def test_fit_writes_loadable_checkpoint(tmp_path):
    ckpt = fit_tiny(tmp_path, config="contractive", steps=2)
    model = regae.load(ckpt)
    assert model.hparams.regularizers == [{"name": "contractive", "weight": 1e-4, "mode": "exact"}]
    assert (tmp_path / "config.yaml").exists() or any(tmp_path.rglob("config.yaml"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config", "nosuch"], "unknown preset 'nosuch'"),
        (["--config", "sparse", "--model.regularizers", "[{name: foo, weight: 1}]"], "Unknown regularizer 'foo'"),
        (["--config", "sparse", "--model.regularizers", "[{name: l1, weight: -1}]"], "finite and >= 0"),
        (["--config", "sparse", "--model.latent_activation", "relu"], "KL sparsity needs"),
        (["--config", "sparse", "--model.widths", "[4]"], "widths"),
        (["--config", "sparse", "--data.batch_size", "0"], "batch_size"),
    ],
)
def test_user_mistakes_are_one_line(args, message, tmp_path):
    code, out, err = run_cli("fit", *args, "--trainer.default_root_dir", str(tmp_path))
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "checkpoints").exists()  # nothing trained, nothing written


def test_unknown_architecture_fails_before_training(tmp_path):
    code, _, err = run_cli("fit", "--config", "sparse", "--model.arch", "resnet",
                           "--trainer.default_root_dir", str(tmp_path))
    assert code == 2 and "resnet" in err and "Traceback" not in err


def test_console_script_runs():
    proc = subprocess.run([sys.executable, "-m", "regae", "presets"], capture_output=True, text=True, check=True)
    assert "contractive" in proc.stdout

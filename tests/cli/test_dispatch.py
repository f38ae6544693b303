"""The regae command: presets, help, one-line errors before training starts."""

import json
import subprocess
import sys

import pytest

import regae
from tests.support.helpers import TINY, fit_tiny, run_cli


def test_overview_lists_commands_and_presets():
    code, out, _ = run_cli("--help")
    assert code == 0
    for word in ("fit", "compare", "report", "sparse", "contractive", "denoising", "undercomplete"):
        assert word in out


def test_presets_carry_seed_hyperparameters():
    import yaml

    from regae.configs import presets

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
    from regae.configs.preflight import check_config_file

    ckpt = fit_tiny(tmp_path, config="contractive", steps=2)
    model = regae.load(ckpt)
    assert model.hparams.regularizers == [{"name": "contractive", "weight": 1e-4, "mode": "exact"}]
    saved = sorted(tmp_path.rglob("config.yaml"))
    assert saved
    check_config_file(str(saved[0]))  # a run's own resolved config passes the early checks (launch/ trains from one)


def test_a_run_without_checkpoints_trains_and_writes_none(tmp_path):
    """``--trainer.enable_checkpointing false`` drops regae's checkpoint callback (Lightning
    would refuse the pair with a traceback) and the run still reports its test PSNR."""
    code, out, err = run_cli("fit", "--config", "sparse", "--trainer.default_root_dir", str(tmp_path),
                             "--trainer.max_steps", "2", "--model.widths", "[4, 8, 8]", *TINY,
                             "--trainer.enable_checkpointing", "false")
    assert code == 0, err
    assert not (tmp_path / "checkpoints").exists() and "test/psnr" in out


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


HEAVY = {"torch", "lightning", "lightning_fabric", "pytorch_lightning", "jsonargparse", "torchmetrics", "numpy",
         "matplotlib", "sklearn", "scipy", "regae.training.lightning_cli", "regae.model.autoencoder"}
HEAVY_PREFIXES = tuple(f"{name}." for name in HEAVY)


def imported_modules(tmp_path, *args: str) -> tuple[int, set[str], str]:
    """Run ``python -m regae ARGS`` in a fresh interpreter: (exit code, the modules it imported, stderr)."""
    dump = tmp_path / "modules.json"
    script = ("import json, sys, regae.__main__ as m\n"
              "try:\n    code = m.main(sys.argv[2:])\nfinally:\n"
              "    open(sys.argv[1], 'w').write(json.dumps(sorted(sys.modules)))\n"
              "sys.exit(code)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(dump), *args], capture_output=True, text=True, timeout=60)
    return proc.returncode, set(json.loads(dump.read_text())), proc.stderr


@pytest.mark.parametrize("args", [
    (), ("--help",), ("presets",), ("frobnicate",),
    ("fit", "--config", "nosuch"),
    ("fit", "--config", "sparse", "--model.latnt_dim", "3"),
    ("fit", "--modle.lr", "1"),
    ("compare", "--help"), ("report", "--help"), ("compare", "--seeds", "0"),
    ("study", "--help"), ("finetune", "--help"), ("finetune", "--ckpt", "x.ckpt", "--epochs", "0"),
])
def test_answers_without_torch_or_lightning(tmp_path, args):
    """The overview, the presets, the commands' help and the mistakes found before training import
    none of the heavy packages (importing Lightning alone takes 5-7 s on a 2-core machine)."""
    code, names, err = imported_modules(tmp_path, *args)
    assert "regae.cli" in names
    heavy = sorted(n for n in names if n.startswith(HEAVY_PREFIXES) or n in HEAVY)
    assert heavy == [], heavy[:10]
    assert code == (2 if err else 0)
    assert err.count("\n") <= 1 and "Traceback" not in err  # one line, or nothing


def test_output_into_a_closed_pipe_ends_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "regae", "presets"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line is written (`regae presets | head -0`)
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141  # 128 + SIGPIPE, as a shell reports for cat or ls
    assert err == ""


def test_a_broken_pipe_elsewhere_is_not_hidden(monkeypatch):
    """Only a closed stdout ends quietly; a BrokenPipeError from anything else is a bug with a traceback."""
    import regae.cli.dispatch

    def broken(argv):
        raise BrokenPipeError("a worker's pipe")

    monkeypatch.setattr(regae.cli.dispatch, "presets_main", broken)
    with pytest.raises(BrokenPipeError, match="a worker's pipe"):
        run_cli("presets")


def test_unknown_command_is_one_line():
    code, out, err = run_cli("frobnicate")
    assert code == 2 and out == ""
    assert err == "regae: error: unknown command 'frobnicate'; commands: fit, validate, test, compare, report, " \
                  "finetune, check-rerun, study, reproduce, presets (see regae --help)\n"


def test_value_errors_from_the_parser_are_one_line(tmp_path):
    code, _, err = run_cli("fit", "--config", "sparse", "--data.batch_size", "many",
                           "--trainer.default_root_dir", str(tmp_path))
    assert code == 2
    assert err.startswith("regae: error: ") and err.count("\n") == 1
    assert '"data.batch_size"' in err and "many" in err and "regae fit --help" in err
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.parametrize("command", ["compare", "report", "finetune", "check-rerun", "study", "reproduce", "presets"])
def test_every_command_help_reads_cleanly(command):
    """Each command's --help exits 0 and shows no unexpanded argparse escapes ('%%', '%(')."""
    from regae.cli.commands import COMMANDS

    assert command in COMMANDS
    code, out, _ = run_cli(command, "--help")
    assert code == 0 and "usage:" in out
    assert "%%" not in out and "%(" not in out, out

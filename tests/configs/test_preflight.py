"""The checks of a training command line made before Lightning is imported."""

import inspect
import re

import pytest

from regae.configs.preflight import SUBCOMMANDS, TOP_LEVEL, check_config_file, check_trainer_argv, init_params
from regae.errors import ConfigError
from tests.support.helpers import run_cli


@pytest.mark.parametrize("group, cls", [("model", "regae.model.autoencoder:AutoEncoder"),
                                        ("data", "regae.data.datamodule:ImageDataModule")])
def test_option_names_read_from_source_match_the_signature(group, cls):
    import importlib

    module, name = cls.split(":")
    params = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    assert init_params(group) == frozenset(params)


def test_every_top_level_key_of_the_real_parser_is_known():
    for command in SUBCOMMANDS:
        code, out, _ = run_cli(command, "--help")
        assert code == 0
        keys = set(re.findall(r"^\s+(?:-c CONFIG, )?--([a-z_]+)", out, flags=re.M)) - {"help"}
        assert "trainer" in keys and "model" in keys
        assert keys <= TOP_LEVEL, (command, keys - TOP_LEVEL)


@pytest.mark.parametrize("args", [
    ["--model.widths=[4,8]", "--model.regularizers+={name: l1, weight: 1}", "--trainer.callbacks+=EarlyStopping"],
    ["--data.limit_train", "64", "--print_config", "--seed_everything", "3", "--ckpt_path", "last"],
    ["--model", "model.yaml", "--model.help", "x", "--trainer.max_steps", "-1"],
    ["--help", "--modle.lr", "1"],  # help wins; LightningCLI answers it
])
def test_valid_command_lines_pass(args):
    check_trainer_argv(["fit", *args])


@pytest.mark.parametrize("args, message", [
    (["--modle.lr", "1"], "unknown option --modle.lr; did you mean --model?"),
    (["--model.latnt_dim=3"], "unknown option --model.latnt_dim; did you mean --model.latent_dim?"),
    (["--data.batchsize", "3"], "did you mean --data.batch_size?"),
    (["--qqq"], "unknown option --qqq; expected one of: --checkpoint, --ckpt_path, --config"),
])
def test_unknown_options(args, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_trainer_argv(["fit", *args])


@pytest.mark.parametrize("text, message", [
    ("model: [1,\n", r"is not valid YAML at line 2, column 1: expected the node content"),
    ("- a\n- b\n", r"must be a mapping of options \(trainer:, model:, data:, ...\), got a list"),
    ("modle:\n  lr: 1\n", r"unknown key 'modle'; did you mean model\?"),
    ("model:\n  latnt_dim: 3\n", r"unknown key model.latnt_dim in config file .*; did you mean latent_dim\?"),
    ("data:\n  batchsize: 3\n", r"unknown key data.batchsize"),
])
def test_bad_config_files(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        check_trainer_argv(["fit", "--config", str(path)])
    with pytest.raises(ConfigError, match=message):
        check_trainer_argv(["fit", f"--config={path}"])


def test_good_and_unreadable_config_files(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("trainer: {max_steps: 2}\nmodel: {arch: mlp, widths: [8]}\ndata: {batch_size: 4}\n")
    check_config_file(str(good))
    (tmp_path / "empty.yaml").write_text("")
    check_config_file(str(tmp_path / "empty.yaml"))
    (tmp_path / "subclass.yaml").write_text("model:\n  class_path: regae.model.autoencoder.AutoEncoder\n  init_args: {lr: 1}\n")
    check_config_file(str(tmp_path / "subclass.yaml"))
    with pytest.raises(ConfigError, match="cannot read config file"):
        check_config_file(str(tmp_path))  # a folder


def test_a_bad_config_file_is_one_line_from_the_command(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  latnt_dim: 3\n")
    code, out, err = run_cli("fit", "--config", str(path))
    assert code == 2 and out == ""
    assert err.startswith("regae: error: unknown key model.latnt_dim") and err.count("\n") == 1


LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8))


@pytest.mark.parametrize("where", ["file", "option"])
def test_yaml_aliases_are_refused_before_anything_expands_them(tmp_path, where):
    """A kilobyte of "billion laughs" (5^8 * 9 leaves) is one line at once, in a config file or in a value."""
    import time

    t0 = time.perf_counter()
    if where == "file":
        path = tmp_path / "laughs.yaml"
        path.write_text("model:\n  regularizers: *i\n" + LAUGHS)
        code, _, err = run_cli("fit", "--config", str(path))
    else:
        code, _, err = run_cli("fit", "--model.regularizers", "{" + LAUGHS.replace("\n", ", ") + "}")
    assert code == 2 and "YAML aliases" in err and len(err.strip().splitlines()) == 1, err
    assert time.perf_counter() - t0 < 5


def test_yaml_nested_5000_deep_is_one_line_not_a_recursion_error(tmp_path):
    code, _, err = run_cli("fit", "--model.widths", "[" * 5000 + "]" * 5000)
    assert code == 2 and "nested deeper than 32" in err and "Traceback" not in err, err
    path = tmp_path / "deep.yaml"
    path.write_text("model:\n  widths: " + "[" * 5000 + "]" * 5000 + "\n")
    code, _, err = run_cli("fit", "--config", str(path))
    assert code == 2 and "nested deeper than 32" in err, err


def test_a_huge_config_file_is_refused_unread(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * (1 << 20) + "\nmodel: {}\n")
    code, _, err = run_cli("fit", "--config", str(path))
    assert code == 2 and "larger than 1024 KiB" in err, err


@pytest.mark.parametrize("argv", [
    ["--trainer.callbacks+=evil_module.Callback"],
    ["--trainer.logger", "os.system"],
    ["--trainer.strategy", "subprocess.Popen"],
])
def test_classes_from_untrusted_modules_are_refused_before_any_import(argv, monkeypatch):
    monkeypatch.delenv("REGAE_TRUSTED_MODULES", raising=False)
    code, _, err = run_cli("fit", *argv)
    assert code == 2 and "regae imports classes only from lightning, torch, torchmetrics, regae" in err, err
    assert "REGAE_TRUSTED_MODULES=" in err and len(err.strip().splitlines()) == 1


def test_a_config_file_class_path_is_checked_and_trusted_modules_can_be_added(tmp_path, monkeypatch):
    from regae.configs.preflight import check_config_file

    path = tmp_path / "c.yaml"
    path.write_text("trainer:\n  callbacks:\n    - class_path: my_callbacks.Probe\n")
    monkeypatch.delenv("REGAE_TRUSTED_MODULES", raising=False)
    with pytest.raises(ConfigError, match="would import module 'my_callbacks'"):
        check_config_file(str(path))
    monkeypatch.setenv("REGAE_TRUSTED_MODULES", "other, my_callbacks")
    check_config_file(str(path))  # allowed now
    path.write_text("trainer:\n  callbacks:\n    - class_path: lightning.pytorch.callbacks.EarlyStopping\n")
    monkeypatch.delenv("REGAE_TRUSTED_MODULES")
    check_config_file(str(path))

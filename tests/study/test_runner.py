"""Budgets, the experiment registry, the command line, and small tensor helpers."""

import importlib
import math
import os
import subprocess
import sys

import pytest
import torch

from regae.cli import main
from regae.errors import ConfigError
from regae.model.inference import psnr
from regae.study.budgets import LEVELS, RECIPES, Level, Recipe, plan
from regae.study.curves import last_quarter_gain
from regae.study.experiments.conv_decoders import moving_average
from regae.study.experiments.sparse import sparsity_stats
from regae.study.registry import EXPERIMENTS, section_key
from regae.study.runner import one_per_class
from regae.study.session import preface, record_run


def test_plan_resolves_level_and_recipe():
    deep = plan("default", "deep")
    assert deep.n_train == 55_000 and deep.epochs == RECIPES["deep"].epochs[1]
    assert deep.steps() == deep.epochs * math.ceil(55_000 / deep.batch_size)
    assert deep.model_kwargs() == {"lr": RECIPES["deep"].lr, "lr_schedule": "cosine",
                                   "warmup": RECIPES["deep"].warmup, "lr_floor": 0.0}
    tiny = plan("tiny", "deep")
    assert (tiny.n_train, tiny.epochs, tiny.seeds, tiny.test_images) == (512, 2, 1, 256)
    assert plan("default", "shallow", seeds=5).seeds == 5
    capped = Recipe("x", epochs=(1, 2, 3), images=20_000)
    assert plan("default", capped).n_train == 20_000 and plan("full", capped).n_train == 55_000
    assert plan("tiny", capped).n_train == 512
    shallow = RECIPES["shallow"]
    assert f"Adam {shallow.lr:g} with cosine decay after a 2% warm-up; {shallow.seeds[1]} seeds" in \
        plan("default", "shallow").describe()
    # the deep AE pre-trains layer by layer first (pilots: docs/study/pilots); the others start at random
    assert [plan(lv, "deep").pretrain_epochs for lv in ("tiny", "default", "full")] == [1, 5, 5]
    assert plan("default", "deep").describe().startswith("greedy layer-wise pre-training, 5 epochs per layer, then ")
    assert plan("default", "shallow").pretrain_epochs == 0 and "pre-training" not in plan("default", "shallow").describe()
    with pytest.raises(ConfigError, match="pre-training"):
        Recipe("x", epochs=(1, 2, 3), pretrain=(0, -1, 0))


def test_budget_validation():
    with pytest.raises(ConfigError, match="test_images"):
        Level("tiny", train_images=10, test_images=0, val_images=10)
    with pytest.raises(ConfigError, match="Expected a level"):
        Level("small", train_images=10, test_images=10, val_images=10)
    with pytest.raises(ConfigError, match="3 epochs"):
        Recipe("x", epochs=(1, 2))
    with pytest.raises(ConfigError, match="seeds"):
        plan("tiny", "deep", seeds=0)
    assert set(LEVELS) == {"tiny", "default", "full"}
    for r in RECIPES.values():  # every level trains at least as long as the one below it
        assert r.epochs[0] <= r.epochs[1] <= r.epochs[2] and r.seeds[1] <= r.seeds[2], r


def test_every_experiment_module_has_run_and_its_key():
    for name, (module, _) in EXPERIMENTS.items():
        mod = importlib.import_module(module)
        assert mod.KEY == section_key(name) and callable(mod.run)


def test_help_does_not_import_torch():
    code = ("import sys; from regae.cli.study import parser; text = parser().format_help(); "
            "assert 'torch' not in sys.modules, 'torch imported'; assert 'deep' in text; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_helpers():
    assert float(psnr(torch.full((2, 4), 0.1), torch.zeros(2, 4))) == pytest.approx(20.0)  # MSE 0.01
    assert float(psnr(torch.ones(3), torch.ones(3))) == float("inf")
    labels = torch.tensor([3, 1, 0, 1, 2, 4, 5, 6, 7, 8, 9, 0])
    assert one_per_class(labels).tolist() == [2, 1, 4, 0, 5, 6, 7, 8, 9, 10]
    assert moving_average([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    h = torch.tensor([[0.0, 0.005, 2.0], [0.0, 1.0, 3.0]])
    stats = sparsity_stats(h)
    assert stats["fraction_near_zero"] == pytest.approx(3 / 6)
    assert stats["mean_l1_per_image"] == pytest.approx((2.005 + 4.0) / 2)
    assert stats["dead_units"] == pytest.approx(1 / 3)
    # last-quarter gain: 8 epochs -> last minus epoch 6 (index 5)
    assert last_quarter_gain([10, 11, 12, 13, 14, 15, 16, 17.5]) == pytest.approx(2.5)
    assert last_quarter_gain([10.0]) == 0.0 and last_quarter_gain([10.0, 12.0]) == pytest.approx(2.0)


def test_run_records_accumulate_and_preface_names_them(tmp_path):
    run = {"command": "regae study pca", "machine": "CPU, 2 cores", "threads": 1, "device": "cpu",
           "level": "tiny", "started": "t0", "experiments": {"pca": {}}, "wall_seconds": 120.0,
           "cpu_seconds": 60.0, "load": 3.5}
    record_run(tmp_path, run)
    record_run(tmp_path, run | {"wall_seconds": 180.0})  # the same run, updated
    runs = record_run(tmp_path, run | {"started": "t1", "command": "regae study vae"})
    assert [r["command"] for r in runs] == ["regae study pca", "regae study vae"] and runs[0]["wall_seconds"] == 180
    text = preface(runs)
    assert "`regae study pca` — tiny level, pca; started t0 on CPU, 2 cores, 1 torch thread(s): 3 min wall, " \
           "1 min CPU, mean load average 3.5." in text
    assert "Not yet run" not in text
    text = preface(runs, ["sparse", "vae"], tmp_path / "o")
    assert f"**Not yet run here:** sparse, vae. To add them (models already trained are reused from the cache): " \
           f"`regae study sparse vae --budget tiny --out {(tmp_path / 'o').as_posix()} --cache DIR`." in text


def test_cli_errors_are_one_line(capsys):
    assert main(["study", "nosuch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown experiment(s) ['nosuch']" in err[0]
    assert main(["study"]) == 2
    assert "name an experiment or 'all'" in capsys.readouterr().err
    assert main(["study", "pca", "--full", "--budget", "tiny"]) == 2
    assert main(["study", "pca", "--device", "tpu"]) == 2
    assert main(["study", "pca", "--seeds", "0"]) == 2
    assert "Expected --seeds >= 1, got 0" in capsys.readouterr().err
    assert main(["study", "--list"]) == 0
    assert "denoising" in capsys.readouterr().out


def test_a_model_killed_mid_training_continues_from_its_last_epoch(tmp_path, monkeypatch):
    """The cache keeps each model's last epoch while it trains: a restart continues it, and the
    result is the model an uninterrupted run trains (one thread: bitwise)."""
    import lightning.pytorch as pl

    from regae.study import runner
    from regae.study.budgets import Recipe
    from regae.threads.count import threads

    recipe = Recipe("t", epochs=(3, 3, 3), batch_size=64, seeds=(1, 1, 1))
    spec = dict(arch="mlp", widths=[16], latent_dim=4)

    class Crash(pl.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == 2:
                raise RuntimeError("killed")

    real = runner.train_model
    calls = []

    def crashing(model, data, epochs, device="cpu", callbacks=(), *args, **kwargs):
        calls.append(kwargs.get("resume_dir"))
        extra = [Crash()] if len(calls) == 1 else []
        return real(model, data, epochs, device, [*callbacks, *extra], *args, **kwargs)

    with threads(1):
        straight = runner.StudyContext("tiny", tmp_path / "a", cache=tmp_path / "cache-a").fit("m", recipe, **spec)
        monkeypatch.setattr(runner, "train_model", crashing)
        ctx = runner.StudyContext("tiny", tmp_path / "b", cache=tmp_path / "cache-b")
        with pytest.raises(RuntimeError, match="killed"):
            ctx.fit("m", recipe, **spec)
        run_dirs = list((tmp_path / "cache-b").glob("*.run"))
        assert len(run_dirs) == 1 and (run_dirs[0] / "last.ckpt").is_file()
        resumed = runner.StudyContext("tiny", tmp_path / "b", cache=tmp_path / "cache-b").fit("m", recipe, **spec)
    assert calls[1] == run_dirs[0] and not run_dirs[0].exists()  # finished: the epochs make way for the model
    assert len(resumed.train_loss) == 3 and resumed.val_psnr == pytest.approx(straight.val_psnr)
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), (name, (a - b).abs().max(), straight.train_loss, resumed.train_loss)


def test_pretraining_noise_and_zero_epochs_in_recipes():
    sda = Recipe("x", epochs=(0, 0, 0), pretrain=(1, 10, 20), pretrain_corrupt="masking:0.25")
    assert plan("default", sda).pretrain_corrupt == "masking:0.25" and plan("default", sda).steps() == 0
    assert plan("default", sda).describe().startswith(
        "greedy layer-wise pre-training as denoising AEs (masking:0.25) on 55,000 training images, 10 epochs per layer, "
        "batch 128, Adam 0.001; no end-to-end training; 3 seeds")
    assert plan("default", Recipe("x", epochs=(0, 0, 0))).describe().startswith("no training (the random init); ")
    assert plan("default", "deep").pretrain_corrupt is None  # every existing recipe pre-trains plain AEs
    with pytest.raises(ConfigError, match="pre-training epochs with `pretrain_corrupt`"):
        Recipe("x", epochs=(1, 2, 3), pretrain_corrupt="masking:0.25")
    with pytest.raises(ConfigError, match=r"masking level in \(0.0, 1.0\], got 2.0"):
        Recipe("x", epochs=(1, 2, 3), pretrain=(1, 1, 1), pretrain_corrupt="masking:2")
    with pytest.raises(ConfigError, match="3 epochs >= 0"):
        Recipe("x", epochs=(1, -1, 3))


def test_cache_keys_name_pretraining_noise_only_when_it_is_set(tmp_path):
    """A model trained before ``pretrain_corrupt`` existed keeps its key (no new entry with its default), a
    stacked denoising AE gets its own; 0 epochs gives the pre-trained stack, or the random init, untouched."""
    import json

    from regae.study.runner import StudyContext

    ctx = StudyContext("tiny", tmp_path, cache=tmp_path / "cache")
    net = dict(arch="mlp", widths=[16], latent_dim=8, hidden_activation="sigmoid")
    base = {"train_images", "val_images", "epochs", "batch_size", "lr", "warmup", "lr_floor"}
    trained = ctx.fit("ae", Recipe("a", epochs=(1, 1, 1), batch_size=64), **net)
    plain = ctx.fit("sae", Recipe("p", epochs=(0, 0, 0), pretrain=(1, 1, 1), batch_size=64), **net)
    noisy = ctx.fit("sda", Recipe("n", epochs=(0, 0, 0), pretrain=(1, 1, 1), batch_size=64, pretrain_corrupt="masking:0.5"),
                    **net)
    init = ctx.fit("init", Recipe("i", epochs=(0, 0, 0)), **net)
    assert set(json.loads(trained.key)["b"]) == base and set(json.loads(init.key)["b"]) == base
    assert json.loads(plain.key)["b"] == {k: json.loads(plain.key)["b"][k] for k in base} | {"pretrain_epochs": 1}
    assert json.loads(noisy.key)["b"] == json.loads(plain.key)["b"] | {"pretrain_corrupt": "masking:0.5"}
    assert plain.steps == 0 and plain.val_psnr == [] and len(trained.val_psnr) == 1
    first = [layer.weight for layer in (plain.model.net.encoder[1], noisy.model.net.encoder[1])]
    assert not torch.equal(*first)  # same seed, same init and batches: the noise made the difference
    start = ctx.initial_model(**net).state_dict()
    assert all(torch.equal(start[k], v) for k, v in init.model.state_dict().items())
    assert not torch.equal(start["net.encoder.1.weight"], plain.model.state_dict()["net.encoder.1.weight"])


def test_a_cached_fine_tuned_classifier_is_the_one_that_was_trained(tmp_path):
    """The runner caches classifiers with the one weights-only writer (``save_model``): a second
    context reads the same function back, with its record, without training; the file is a
    classifier checkpoint carrying MNIST's record, as ``regae finetune``'s is."""
    from regae.checkpoints.read import read_checkpoint
    from regae.data.record import checkpoint_record
    from regae.study.runner import StudyContext

    net = dict(arch="mlp", widths=[16], latent_dim=8, hidden_activation="sigmoid")
    recipe = Recipe("c", epochs=(1, 1, 1), batch_size=64)
    ctx = StudyContext("tiny", tmp_path / "a", cache=tmp_path / "cache")
    tuned = ctx.fine_tune("clf", ctx.fit("ae", recipe, **net), recipe)
    again_ctx = StudyContext("tiny", tmp_path / "b", cache=tmp_path / "cache")
    again = again_ctx.fine_tune("clf", again_ctx.fit("ae", recipe, **net), recipe)
    assert again.cached and not tuned.cached and again.val_acc == tuned.val_acc
    x = torch.rand(5, 1, 28, 28)
    assert torch.equal(again.model(x), tuned.model(x))
    (path,) = [p for p in (tmp_path / "cache").glob("*.ckpt")
               if read_checkpoint(p)["hyper_parameters"].get("num_classes") == 10]
    ckpt = read_checkpoint(path)
    assert "optimizer_states" not in ckpt and checkpoint_record(ckpt)["dataset"] == "mnist"

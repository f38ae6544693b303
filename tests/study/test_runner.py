"""Budgets, the experiment registry, the command line, and small tensor helpers."""

import importlib

import pytest
import torch

from regae.cli import main
from regae.errors import ConfigError
from regae.study.conv_decoders import moving_average
from regae.study.registry import EXPERIMENTS, section_key
from regae.study.runner import BUDGETS, Budget, one_per_class, psnr
from regae.study.sparse import sparsity_stats


def test_budgets():
    small = BUDGETS["small"]
    assert small.steps() == 8 * 188  # ceil(12000 / 64) = 188 batches per epoch
    assert small.steps(batch_size=128) == 8 * 94
    assert BUDGETS["full"].n_train == 55_000 and BUDGETS["full"].steps() == 20 * 430
    assert BUDGETS["full"].scaled(images=0.1, epochs=0.1) == BUDGETS["full"]
    cheap = small.scaled(images=0.4, epochs=0.67)
    assert (cheap.n_train, cheap.epochs) == (4800, 5)  # round(8 * 0.67) = 5
    with pytest.raises(ConfigError, match="test_images"):
        Budget("x", train_images=10, test_images=0, epochs=1)


def test_every_experiment_module_has_run_and_its_key():
    for name, (module, _) in EXPERIMENTS.items():
        mod = importlib.import_module(module)
        assert mod.KEY == section_key(name) and callable(mod.run)


def test_helpers():
    assert psnr(torch.full((2, 4), 0.1), torch.zeros(2, 4)) == pytest.approx(20.0)  # MSE 0.01
    assert psnr(torch.ones(3), torch.ones(3)) == float("inf")
    labels = torch.tensor([3, 1, 0, 1, 2, 4, 5, 6, 7, 8, 9, 0])
    assert one_per_class(labels).tolist() == [2, 1, 4, 0, 5, 6, 7, 8, 9, 10]
    assert moving_average([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    h = torch.tensor([[0.0, 0.005, 2.0], [0.0, 1.0, 3.0]])
    stats = sparsity_stats(h)
    assert stats["fraction_near_zero"] == pytest.approx(3 / 6)
    assert stats["mean_l1_per_image"] == pytest.approx((2.005 + 4.0) / 2)
    assert stats["dead_units"] == pytest.approx(1 / 3)


def test_cli_errors_are_one_line(capsys):
    assert main(["study", "nosuch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown experiment(s) ['nosuch']" in err[0]
    assert main(["study"]) == 2
    assert "name an experiment or 'all'" in capsys.readouterr().err
    assert main(["study", "pca", "--full", "--budget", "tiny"]) == 2
    assert main(["study", "pca", "--device", "tpu"]) == 2
    assert main(["study", "--list"]) == 0
    assert "denoising" in capsys.readouterr().out

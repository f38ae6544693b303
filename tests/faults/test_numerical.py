"""A learning rate that makes the loss explode: training stops, names the step and the term,
exits 2, and the last good checkpoint stays the last checkpoint."""

from __future__ import annotations

import pytest
import torch

import regae as rg
from regae.cli import main
from tests.support.faults import TINY, error_lines

pytestmark = [pytest.mark.faults, pytest.mark.filterwarnings("ignore::UserWarning")]

# Σ‖W‖² with weight 1 under SGD lr 1e6: W <- W (1 - 2e6) each step, so the penalty grows by
# ~4e12 per step from ~314 (the initial Σ‖W‖² of this net): 314 -> 1.3e15 -> 5.0e27 -> inf (> 3.4e38).
EXPLODE = ["--model.optimizer", "sgd", "--model.lr", "1e6", "--model.regularizers", "[{name: weight_decay, weight: 1.0}]",
           "--checkpoint.every_n_train_steps", "2", "--trainer.max_steps", "40"]


@pytest.mark.parametrize("save_on_exception", ["false", "true"])
def test_exploding_loss_stops_with_step_and_term_and_keeps_last_good(tmp_path, capsys, save_on_exception):
    code = main(["fit", *TINY, *EXPLODE, "--checkpoint.save_on_exception", save_on_exception,
                 "--trainer.default_root_dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert error_lines(err) == [
        "regae: error: training stopped at step 3 (epoch 0): non-finite reg/weight_decay (reg/weight_decay=inf); "
        "lower the learning rate or the regularizer weights"
    ]
    ckpts = tmp_path / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["epoch000-step000002.ckpt", "last.ckpt"]  # no step-3 save
    last = rg.read_checkpoint(ckpts / "last.ckpt")
    assert last["global_step"] == 2
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values())
    history = last["regae"]["loss_history"]
    assert [s for s, _ in history] == [0, 1]
    assert history[0][1] == pytest.approx(314.5, abs=1.0) and history[1][1] == pytest.approx(1.257e15, rel=1e-2)
    model = rg.load(ckpts / "last.ckpt")  # and it is usable
    assert torch.isfinite(model(torch.rand(2, 1, 28, 28)).x_hat).all()

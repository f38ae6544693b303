"""kill -9 a real ``regae fit`` mid-epoch, rerun the same command: nothing lost, nothing repeated.

The command carries ``--ckpt_path last`` from the start: with no checkpoint yet Lightning warns
and starts fresh, after a kill it restores ``last.ckpt``. With one thread on CPU the resumed
run's weights and per-step losses equal an uninterrupted run's exactly (tolerance 0).
"""

from __future__ import annotations

import pytest
import torch

from regae import read_checkpoint
from regae.data.loader import TensorBatchLoader
from tests.support.faults import STEPS_PER_EPOCH, TINY, kill_when, regae, start

pytestmark = pytest.mark.faults

MAX_STEPS = 40
EVERY = 6


def fit_args(root) -> list[str]:
    return ["fit", *TINY, "--model.widths", "[256]", "--trainer.max_steps", str(MAX_STEPS),
            "--checkpoint.every_n_train_steps", str(EVERY), "--trainer.default_root_dir", str(root),
            "--ckpt_path", "last"]


def test_kill_mid_epoch_then_resume_matches_uninterrupted_run(tmp_path):
    ref = regae(*fit_args(tmp_path / "ref"))
    assert ref.returncode == 0, ref.stderr[-2000:]
    assert "Restoring states" not in ref.stderr  # same command, first run: no checkpoint yet, fresh start
    reference = read_checkpoint(tmp_path / "ref/checkpoints/last.ckpt")
    assert reference["global_step"] == MAX_STEPS  # the final steps (37..40) are in last.ckpt too

    ckpts = tmp_path / "run/checkpoints"
    proc = start(*fit_args(tmp_path / "run"), log=tmp_path / "killed.log")
    # step 18 = epoch 1, batch 2 of 16: kill as soon as its checkpoint shows up
    killed = kill_when(proc, lambda: (ckpts / "epoch001-step000018.ckpt").exists())
    assert killed and proc.returncode == -9, (tmp_path / "killed.log").read_text()[-2000:]

    survivor = read_checkpoint(ckpts / "last.ckpt")
    step = survivor["global_step"]
    loader_state = survivor["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]
    assert step in (12, 18) and step < MAX_STEPS
    # mid-epoch, and the loader's position is the number of batches trained on in this epoch
    assert loader_state == {"epoch": step // STEPS_PER_EPOCH, "position": step % STEPS_PER_EPOCH, "seed": 0}
    assert 0 < loader_state["position"] < STEPS_PER_EPOCH

    resumed = regae(*fit_args(tmp_path / "run"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"Restoring states from the checkpoint path at {ckpts / 'last.ckpt'}" in resumed.stderr
    final = read_checkpoint(ckpts / "last.ckpt")
    assert final["global_step"] == MAX_STEPS

    # every step exactly once, with the loss an uninterrupted run had at that step
    steps = [s for s, _ in final["regae"]["loss_history"]]
    assert steps == list(range(MAX_STEPS))
    assert final["regae"]["loss_history"] == reference["regae"]["loss_history"]
    for name, value in reference["state_dict"].items():
        assert torch.equal(final["state_dict"][name], value), name
    for a, b in zip(final["optimizer_states"][0]["state"].values(), reference["optimizer_states"][0]["state"].values()):
        assert torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])


def test_every_epoch_has_its_own_order_when_iterated_like_lightning():
    """Lightning takes len(loader) batches and never exhausts the generator; the next epoch
    must still be a new permutation (fault found: every epoch repeated epoch 0's order)."""
    n, b = 40, 8
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1).expand(n, 28, 28).contiguous()
    loader = TensorBatchLoader(images, torch.arange(n), batch_size=b, shuffle=True, seed=3)

    def epoch_order() -> list[int]:
        it = iter(loader)
        return [int(v) for _ in range(len(loader)) for v in next(it)[1]]

    first, second = epoch_order(), epoch_order()
    assert sorted(first) == sorted(second) == list(range(n))
    assert first != second
    g = torch.Generator().manual_seed(3 * 100_003 + 1)
    assert second == torch.randperm(n, generator=g).tolist()  # epoch 1's permutation
    assert loader.state_dict() == {"epoch": 1, "position": len(loader), "seed": 3}

    # restoring "epoch 1 fully handed out" continues with epoch 2 from its first batch
    fresh = TensorBatchLoader(images, torch.arange(n), batch_size=b, shuffle=True, seed=3)
    fresh.load_state_dict(loader.state_dict())
    third = [int(v) for _, y in fresh for v in y]
    assert third == torch.randperm(n, generator=torch.Generator().manual_seed(3 * 100_003 + 2)).tolist()

    # restoring mid-epoch yields exactly the batches not yet seen
    mid = TensorBatchLoader(images, torch.arange(n), batch_size=b, shuffle=True, seed=3)
    mid.load_state_dict({"epoch": 1, "position": 2, "seed": 3})
    assert [int(v) for _, y in mid for v in y] == second[2 * b:]

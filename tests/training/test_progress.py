"""What `regae fit` prints: one line to start, one per epoch without a bar, no third-party noise."""

import re
import warnings

import pytest
from lightning.pytorch.callbacks import TQDMProgressBar

from regae.training.checkpoint_io import AtomicCheckpointIO
from regae.training.core_share import CoreShare
from regae.training.noise import WARNINGS
from regae.training.progress import EpochSummary, ProgressBar, summary_line
from regae.training.trainer import make_trainer
from tests.support.helpers import TINY, run_cli


def test_summary_line():
    assert summary_line(2, 20, 1290, -1, 0.021346, 18.4199, 41.2) == \
        "epoch 3/20  step 1290  train/loss 0.02135  val/psnr 18.42 dB  (41 s)"
    assert summary_line(0, -1, 30, 600, None, None, 0.4) == "epoch 1  step 30/600  (0 s)"
    assert summary_line(0, None, 5, -1, 1.0, float("inf"), 1) == "epoch 1  step 5  train/loss 1  val/psnr inf dB  (1 s)"


def test_extra_callbacks_join_the_defaults_and_a_bar_replaces_ours():
    own = (ProgressBar, EpochSummary, CoreShare)
    kinds = lambda t: [type(c) for c in t.callbacks if isinstance(c, (*own, TQDMProgressBar))]  # noqa: E731
    assert kinds(make_trainer(enable_progress_bar=True, logger=False)) == [ProgressBar, EpochSummary, CoreShare]
    assert kinds(make_trainer(enable_progress_bar=False, logger=False)) == [EpochSummary, CoreShare]
    theirs = TQDMProgressBar(refresh_rate=50)
    trainer = make_trainer(callbacks=[theirs], enable_progress_bar=True, logger=False)
    assert kinds(trainer) == [TQDMProgressBar, EpochSummary, CoreShare] and trainer.progress_bar_callback is theirs
    assert trainer.checkpoint_callback is not None and isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    assert make_trainer(enable_checkpointing=False, logger=False).checkpoint_callback is None


def test_tiny_fit_prints_summary_lines_and_keeps_only_user_warnings(tmp_path):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        code, out, err = run_cli(
            "fit", "--config", "sparse", "--model.widths", "[4, 8, 8]", "--trainer.default_root_dir", str(tmp_path),
            *TINY[:-2], "--data.limit_train", "96", "--trainer.max_epochs", "2", "--trainer.max_steps", "5",
        )  # with Lightning's default logger (CSV here), which warns that TensorBoard is missing
    assert code == 0, err
    lines = out.splitlines()
    assert lines.pop(0) == "data: mnist: 1x28x28, 10 classes, train 60000 / test 10000 images, " \
                           "5000 of the training images for validation"  # once, though the data module was built twice
    assert re.fullmatch(r"training [\d,]+ parameters on cpu x1: 3 batches per epoch, at most 2 epochs or 5 steps; "
                        r"checkpoints in .*checkpoints", lines[0])
    # epoch 1 ends with a validation run; epoch 2 stops at step 5, before its validation (on a busy
    # machine a line also says how core sharing changed the thread count)
    note = r"(; threads [\d→]+ from step \d+: other processes used up to [\d.]+ of \d+ cores)?"
    assert re.fullmatch(rf"epoch 1/2  step 3/5  train/loss [\d.]+  val/psnr [\d.]+ dB  \(\d+ s{note}\)", lines[1])
    assert re.fullmatch(rf"epoch 2/2  step 5/5  train/loss [\d.]+  \(\d+ s{note}\)", lines[2])
    messages = [str(w.message) for w in seen]
    for noise in WARNINGS:
        assert not [m for m in messages if re.match(noise.message, m)], noise.why
    # a warning about the user's own settings still reaches them
    assert any("smaller than the logging interval" in m for m in messages)
    assert any(tmp_path.rglob("metrics.csv")) or any(tmp_path.rglob("events.out.tfevents.*"))  # CSV or TensorBoard


@pytest.mark.filterwarnings("ignore:Checkpoint directory .* exists and is not empty")  # resuming into it
def test_a_run_resumed_mid_epoch_times_its_epoch_from_the_resume(tmp_path):
    """Lightning calls no on_train_epoch_start for the epoch a run resumes into: the epoch line must
    still count from the resume, not from an unset clock (it printed the machine's uptime)."""
    fit = ("fit", "--config", "sparse", "--model.widths", "[4, 8, 8]", "--trainer.default_root_dir", str(tmp_path),
           *TINY[:-2], "--data.limit_train", "160", "--trainer.max_epochs", "1",
           "--checkpoint.every_n_train_steps", "2")
    code, _, err = run_cli(*fit, "--trainer.max_steps", "2")
    assert code == 0, err
    code, out, err = run_cli(*fit, "--trainer.max_steps", "5", "--ckpt_path", "last")
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("epoch 1/1"))
    assert int(re.search(r"\((\d+) s[;)]", line).group(1)) < 120, line

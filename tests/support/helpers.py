"""Small shared pieces for tests: a tiny trained checkpoint, a CLI runner, IDX files."""

from __future__ import annotations

import contextlib
import gzip
import io
from pathlib import Path

import torch

from regae.cli import main

TINY = [
    "--data.limit_train", "256", "--data.limit_test", "128", "--data.batch_size", "32",
    "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
    "--trainer.logger", "false",
]


def run_cli(*args: str) -> tuple[int, str, str]:
    """regae.cli.main in-process, returning (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argument parsing errors exit like argparse
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def fit_tiny(root: Path, *extra: str, config: str = "sparse", steps: int = 4) -> Path:
    """Train a small model for a few steps; return its last.ckpt."""
    code, _, err = run_cli(
        "fit", "--config", config, "--trainer.default_root_dir", str(root),
        "--trainer.max_steps", str(steps), "--model.widths", "[4, 8, 8]", *TINY, *extra,
    )
    assert code == 0, err
    return root / "checkpoints" / "last.ckpt"


def write_idx(path: Path, data: torch.Tensor) -> Path:
    """Write a uint8 tensor as a gzipped IDX file (MNIST's format: magic 0x0000 08 <ndim>, sizes, bytes)."""
    assert data.dtype == torch.uint8
    header = bytes([0, 0, 0x08, data.ndim]) + b"".join(n.to_bytes(4, "big") for n in data.shape)
    path.write_bytes(gzip.compress(header + data.contiguous().numpy().tobytes(), mtime=0))
    return path


def interrupted_and_resumed(tmp_path: Path, *model_args: str) -> tuple[dict, dict]:
    """``regae fit`` for 8 steps straight, and stopped by Ctrl-C at step 4 (mid-epoch: 8 batches per
    epoch) then resumed with ``--ckpt_path last``; returns the two last checkpoints' state dicts.

    Ctrl-C, not ``--trainer.max_steps 4``: Lightning counts an epoch stopped by ``max_steps`` as
    done, so a later resume starts the next epoch's batches instead of the rest of this one."""
    import os
    import signal

    import lightning.pytorch as pl
    import pytest

    from regae.training.interrupt import TrainingInterrupted
    from regae.training.lightning_cli import run_trainer_cli

    class CtrlC(pl.Callback):
        def on_train_batch_start(self, trainer, *args):
            if trainer.global_step == 4:
                os.kill(os.getpid(), signal.SIGINT)

    def fit(root, *more, callbacks=()):
        run_trainer_cli(["fit", *model_args, *TINY, "--trainer.max_epochs", "-1", "--trainer.max_steps", "8",
                         "--trainer.num_sanity_val_steps", "0", "--trainer.default_root_dir", str(root),
                         # one thread count throughout (CoreShare follows the load otherwise): sums split over
                         # another number of threads round differently, and Adam grows that past the tolerance
                         "--trainer.deterministic", "true", *more],
                        extra_callbacks=list(callbacks))

    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        fit(tmp_path / "straight")
        with pytest.raises(TrainingInterrupted, match="interrupted at step 5"):
            fit(tmp_path / "resumed", callbacks=[CtrlC()])
        torch.manual_seed(987)  # whatever the global generator holds when the run resumes
        fit(tmp_path / "resumed", "--ckpt_path", "last")
    finally:  # Lightning leaves the switch on, and later tests in this process would run under it
        torch.use_deterministic_algorithms(deterministic)
    a, b = (torch.load(tmp_path / r / "checkpoints" / "last.ckpt", weights_only=True) for r in ("straight", "resumed"))
    assert a["global_step"] == b["global_step"] == 8
    return a["state_dict"], b["state_dict"]

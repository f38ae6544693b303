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

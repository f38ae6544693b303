"""DDP on CPU (gloo): one SGD step with 2 processes == one step with 1 process on the same global batch.

Both runs go through the real command line (`regae fit ... --trainer.strategy ddp --trainer.devices 2`).
The whole training set is one global batch of 64 images (2 x 32 under DDP), the contractive
penalty (exact) is included, and the test PSNR printed by rank 0 must be the one over all
test images (synced), equal to the single-process figure.
"""

import re
import subprocess
import sys

import pytest
import torch

pytestmark = [pytest.mark.slow, pytest.mark.ddp]

COMMON = [
    "fit", "--config", "contractive", "--trainer.accelerator", "cpu", "--trainer.max_steps", "1",
    "--trainer.num_sanity_val_steps", "0", "--trainer.enable_progress_bar", "false",
    "--model.widths", "[4, 8, 8]", "--model.optimizer", "sgd", "--model.lr", "0.5",
    "--model.regularizers", "[{name: contractive, weight: 10.0, mode: exact}, {name: l1, weight: 1.0e-3}]",
    "--data.limit_train", "64", "--data.limit_test", "64", "--data.on_device", "false",
]


def fit(root, *extra):
    proc = subprocess.run([sys.executable, "-m", "regae", *COMMON, "--trainer.default_root_dir", str(root), *extra],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    psnr = float(re.search(r"test/psnr\s*[│|]\s*([0-9.]+)", proc.stdout).group(1))
    return torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"], psnr


def test_two_processes_match_one(tmp_path):
    single, psnr1 = fit(tmp_path / "one", "--trainer.devices", "1", "--data.batch_size", "64")
    double, psnr2 = fit(tmp_path / "two", "--trainer.devices", "2", "--trainer.strategy", "ddp",
                        "--data.batch_size", "32")
    moved = 0
    for k, v in single.items():
        assert torch.allclose(v, double[k], rtol=1e-4, atol=1e-6), k
        moved += 1
    assert moved > 10
    assert psnr2 == pytest.approx(psnr1, abs=1e-3)

"""A kill while a checkpoint is being written never leaves ``last.ckpt`` unreadable.

Lightning 2.6's ``TorchCheckpointIO`` stages the file in ``tempfile.gettempdir()`` and moves
it into place; when that folder is another filesystem (here ``TMPDIR=/dev/shm``, a tmpfs) the
move is a copy into the final name, so a kill mid-copy truncates the file (shown below for
real). regae's :class:`~regae.checkpoints.write.AtomicCheckpointIO` writes a temp file next to the target,
fsyncs it and renames it over the target.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

import regae as rg
from regae.checkpoints.write import atomic_write_bytes
from regae.errors import CheckpointError
from regae.training.checkpoint_io import AtomicCheckpointIO
from tests.support.faults import TINY, env, kill_when, regae, start

pytestmark = pytest.mark.faults

OTHER_FS = "/dev/shm"
BIG = ["--model.widths", "[1024, 1024]", "--checkpoint.every_n_train_steps", "1"]  # ~45 MB per checkpoint
ROUNDS = 2
MAX_STEPS = 8


def _other_fs_available() -> bool:
    return os.path.isdir(OTHER_FS) and os.stat(OTHER_FS).st_dev != os.stat(tempfile.gettempdir()).st_dev


@pytest.fixture
def other_tmp():
    """A private TMPDIR on the other filesystem, removed afterwards (a killed writer leaks into it)."""
    folder = Path(tempfile.mkdtemp(prefix="regae-faults-", dir=OTHER_FS))
    yield str(folder)
    shutil.rmtree(folder, ignore_errors=True)


def temp_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp")) if folder.is_dir() else []


@pytest.mark.skipif(not _other_fs_available(), reason=f"needs {OTHER_FS} on another filesystem")
def test_repeated_kills_during_checkpoint_writes_keep_last_loadable(tmp_path, other_tmp):
    root, ckpts = tmp_path / "run", tmp_path / "run/checkpoints"
    args = ["fit", *TINY, *BIG, "--trainer.max_steps", str(MAX_STEPS), "--trainer.default_root_dir", str(root),
            "--ckpt_path", "last"]
    steps_seen, mid_save_kills = [], 0
    for round_ in range(ROUNDS):
        before = set(temp_files(ckpts))
        proc = start(*args, log=tmp_path / f"round{round_}.log", TMPDIR=other_tmp)
        # kill the moment a new temp file exists, i.e. while a checkpoint is being written,
        # but only once a last.ckpt exists (from this round) so there is something to lose
        t0 = time.time()
        killed = kill_when(proc, lambda t0=t0, before=before: (ckpts / "last.ckpt").exists()
                           and (ckpts / "last.ckpt").stat().st_mtime >= t0
                           and bool(set(temp_files(ckpts)) - before))
        assert killed, (tmp_path / f"round{round_}.log").read_text()[-2000:]
        mid_save_kills += bool(set(temp_files(ckpts)) - before)
        model = rg.load(ckpts / "last.ckpt")  # always a complete, loadable checkpoint
        assert model.net.encoder[1].weight.shape == (1024, 784)
        steps_seen.append(rg.read_checkpoint(ckpts / "last.ckpt")["global_step"])
    assert mid_save_kills == ROUNDS  # every kill landed inside a checkpoint write
    assert steps_seen == sorted(steps_seen) and steps_seen[-1] > steps_seen[0]  # progress survives kills

    done = regae(*args, TMPDIR=other_tmp)
    assert done.returncode == 0, done.stderr[-2000:]
    final = rg.read_checkpoint(ckpts / "last.ckpt")
    assert final["global_step"] == MAX_STEPS
    assert [s for s, _ in final["regae"]["loss_history"]] == list(range(MAX_STEPS))  # no step twice, none lost


WRITER = """
import sys, torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from regae.training.checkpoint_io import AtomicCheckpointIO
io = AtomicCheckpointIO() if sys.argv[1] == "atomic" else TorchCheckpointIO()
big = {"state_dict": {"w": torch.ones(24_000_000)}, "regae": {}, "global_step": 1}
while True:
    io.save_checkpoint(big, sys.argv[2])
"""


def _kill_writer_mid_write(kind: str, target: Path, tmpdir: str, tries: int = 4) -> list[bool]:
    """Start a process that rewrites ``target`` in a loop; SIGKILL it while the target's size
    is growing (Lightning) or while a temp file exists (atomic); report if target loads."""
    results = []
    for _ in range(tries):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, kind, str(target)], env=env(TMPDIR=tmpdir))

        def mid_write(full: int = 96_000_000) -> bool:
            if kind == "atomic":
                return bool(temp_files(target.parent)) and target.exists()
            return target.exists() and 0 < target.stat().st_size < full

        if not kill_when(proc, mid_write, timeout=120, poll=0.0002):
            continue
        try:
            rg.read_checkpoint(target)
            results.append(True)
        except CheckpointError:
            results.append(False)
    return results


@pytest.mark.skipif(not _other_fs_available(), reason=f"needs {OTHER_FS} on another filesystem")
def test_lightning_default_io_truncates_across_filesystems_atomic_io_does_not(tmp_path, other_tmp):
    lightning_results = _kill_writer_mid_write("lightning", tmp_path / "a" / "last.ckpt", other_tmp)
    atomic_results = _kill_writer_mid_write("atomic", tmp_path / "b" / "last.ckpt", other_tmp)
    assert atomic_results and all(atomic_results)
    # the fault this plugin exists for: with Lightning's own IO a kill mid-copy leaves a torn file
    assert lightning_results and not all(lightning_results)


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "x" / "last.ckpt"
    atomic_write_bytes(b"old" * 10, target)
    atomic_write_bytes(b"new", target)
    assert target.read_bytes() == b"new"
    assert os.listdir(target.parent) == ["last.ckpt"]


def test_atomic_io_refuses_non_finite_weights_and_keeps_previous(tmp_path):
    io = AtomicCheckpointIO()
    good = {"state_dict": {"w": torch.ones(3)}, "regae": {}, "global_step": 5}
    io.save_checkpoint(good, tmp_path / "last.ckpt")
    bad = {"state_dict": {"w": torch.tensor([1.0, float("nan"), 2.0])}, "regae": {}, "global_step": 6}
    with pytest.raises(rg.NonFiniteLossError, match=r"step 6: non-finite weights in w;"):
        io.save_checkpoint(bad, tmp_path / "last.ckpt")
    assert torch.equal(io.load_checkpoint(tmp_path / "last.ckpt")["state_dict"]["w"], torch.ones(3))
    assert os.listdir(tmp_path) == ["last.ckpt"]

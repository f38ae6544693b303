"""Helpers shared by the launcher tests (imported by name: tests/slurm is on sys.path)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from launch.job import last_checkpoint, read_attempts
from regae import read_checkpoint

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "launch" / "testing" / "local-slurm.sh"

#: a tiny CPU training budget: 2-layer MLP, 256 training images, batches of 32.
TINY = [
    "--model.arch", "mlp", "--model.widths", "[32]", "--model.latent_dim", "8",
    "--data.limit_train", "256", "--data.limit_test", "128", "--data.batch_size", "32",
    "--trainer.log_every_n_steps", "1",
]


def queued_jobs() -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, timeout=30)
    return out.stdout.split()


def wait_for(predicate, timeout: float, what: str, poll: float = 0.2):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def local_slurm(*args: str) -> str:
    """Run launch/testing/local-slurm.sh on the session's cluster (LOCAL_SLURM_DIR from nox)."""
    proc = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def job_info(job_id: str) -> dict[str, str]:
    """``scontrol show job -o`` as a dict (JobState, Restarts, NodeList, ...)."""
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=30)
    return dict(item.split("=", 1) for item in out.stdout.split() if "=" in item)


# -- holding a task still: Slurm's signals come on its own clock ----------------------------------
def _proc_status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def is_stopped(pid: int) -> bool:
    return _proc_status(pid).get("State", "").startswith("T")


def signal_pending(pid: int, signum: int) -> bool:
    status = _proc_status(pid)
    mask = 1 << (signum - 1)
    return any(int(status.get(key, "0"), 16) & mask for key in ("ShdPnd", "SigPnd"))


def send(pid: int, signum: int) -> bool:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def hold_after_checkpoint(run: Path, attempt: int = 0, timeout: float = 240) -> int:
    """SIGSTOP rank 0 of the run's ``attempt`` once ``last.ckpt`` exists; returns its pid.

    A stopped rank 0 holds a DDP job still too: the other ranks wait for it in the next
    all-reduce. Slurm sends SIGCONT before the signals it sends a job (USR2, SIGTERM).
    """
    def ready():
        attempts = read_attempts(run)
        return len(attempts) > attempt and last_checkpoint(run) and attempts[attempt]["pid"]

    pid = wait_for(ready, timeout, f"attempt {attempt} of {run} to write a checkpoint", poll=0.02)
    assert send(pid, signal.SIGSTOP), f"rank 0 (pid {pid}) ended before it could be held"
    wait_for(lambda: is_stopped(pid) or not send(pid, 0), 10, f"pid {pid} to stop")
    return pid


def release_on(pid: int, signum: int, timeout: float) -> None:
    """Wait until Slurm has sent ``signum`` to the held ``pid`` (pending, or it was continued), then continue it."""
    wait_for(lambda: signal_pending(pid, signum) or not is_stopped(pid), timeout,
             f"Slurm's {signal.Signals(signum).name} to pid {pid}")
    send(pid, signal.SIGCONT)


def signal_saves(log: str, name: str) -> list[int]:
    """Steps at which rank 0 saved on signal ``name`` (launch.signals prints one line per save)."""
    return [int(s) for s in re.findall(rf"\[launch\] rank 0: {name} at step (\d+): saved", log)]


# -- the same training without Slurm -------------------------------------------------------------
def fit_locally(config: Path, root: Path, *overrides: str) -> tuple[dict[str, Any], float]:
    """``regae fit --config config`` in one process, one thread; (last.ckpt, printed test PSNR)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "regae", "fit", "--config", str(config), "--trainer.default_root_dir", str(root),
         "--trainer.enable_progress_bar", "false", *overrides],
        capture_output=True, text=True, timeout=900, env=env, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    psnr = float(re.search(r"test/psnr\s*[│|]\s*([0-9.]+)", proc.stdout).group(1))
    return read_checkpoint(root / "checkpoints" / "last.ckpt"), psnr


def assert_same_weights(got: dict[str, Any], want: dict[str, Any]) -> None:
    """Bit for bit: same weights, same Adam moments, every step's loss the same."""
    assert got["global_step"] == want["global_step"]
    assert got["state_dict"].keys() == want["state_dict"].keys()
    for name, value in want["state_dict"].items():
        assert torch.equal(got["state_dict"][name], value), name
    for a, b in zip(got["optimizer_states"][0]["state"].values(), want["optimizer_states"][0]["state"].values()):
        assert torch.equal(a["exp_avg"], b["exp_avg"]) and torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])
    assert got["regae"]["loss_history"] == want["regae"]["loss_history"]

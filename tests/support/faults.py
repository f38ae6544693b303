"""Helpers for the fault tests: run the real ``regae`` console script, kill it, read its files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REGAE = str(Path(sys.executable).with_name("regae"))

#: A tiny, fast run: 1024 training images, batches of 64 -> 16 steps per epoch.
TINY = [
    "--model.arch", "mlp", "--model.widths", "[64]", "--model.history_every", "1",
    "--data.batch_size", "64", "--data.limit_train", "1024", "--data.limit_test", "64",
    "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
    "--trainer.enable_model_summary", "false",
]
STEPS_PER_EPOCH = 1024 // 64


def env(**extra: str) -> dict[str, str]:
    """One intra-op thread: results do not depend on the machine's load or core count."""
    out = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    out.update(extra)
    return out


def regae(*args: str, timeout: float = 300, **env_extra: str) -> subprocess.CompletedProcess:
    """Run ``regae ARGS`` to completion; stdout/stderr captured as text."""
    return subprocess.run([REGAE, *args], capture_output=True, text=True, timeout=timeout, env=env(**env_extra))


def start(*args: str, log: Path, **env_extra: str) -> subprocess.Popen:
    f = open(log, "w")  # noqa: SIM115 - closed by the OS when the child exits
    return subprocess.Popen([REGAE, *args], stdout=f, stderr=subprocess.STDOUT, env=env(**env_extra))


def kill_when(proc: subprocess.Popen, condition, timeout: float = 300, poll: float = 0.001) -> bool:
    """SIGKILL ``proc`` as soon as ``condition()`` holds; False if it exited first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if condition():
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(poll)
    proc.kill()
    proc.wait()
    raise TimeoutError("condition never held")


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("regae: error:")]

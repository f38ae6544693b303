"""Helpers shared by the launcher tests (imported by name: tests/slurm is on sys.path)."""

from __future__ import annotations

import subprocess
import time

#: a tiny CPU training budget: 2-layer MLP, 256 training images, batches of 32.
TINY = [
    "--model.arch", "mlp", "--model.widths", "[32]", "--model.latent_dim", "8",
    "--data.limit_train", "256", "--data.limit_test", "128", "--data.batch_size", "32",
    "--trainer.log_every_n_steps", "1",
]


def queued_jobs() -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, timeout=30)
    return out.stdout.split()


def wait_for(predicate, timeout: float, what: str, poll: float = 0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")

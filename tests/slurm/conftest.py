"""Fixtures for the launcher tests against the real local Slurm (``nox -s slurm``)."""

from __future__ import annotations

import subprocess

import pytest


@pytest.fixture(scope="session")
def slurm_up() -> str:
    """The partition of the running local cluster; fails (not skips) if Slurm is not up."""
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%P %T"], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        pytest.fail("Slurm is not installed: run `bash launch/testing/local-slurm.sh start` (nox -s slurm does)")
    assert out.returncode == 0 and out.stdout.strip(), f"Slurm not answering: {out.stderr}"
    return out.stdout.split()[0].rstrip("*")


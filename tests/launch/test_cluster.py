"""launch.cluster: GPUs read from Slurm's Gres strings."""

from __future__ import annotations

import pytest

from launch.cluster import parse_gpus


@pytest.mark.parametrize(("gres", "gpus"), [
    ("(null)", 0), ("gpu:4", 4), ("gpu:a100:2(S:0-1)", 2), ("gpu:a100:2,gpu:v100:1", 3), ("shard:8", 0), ("gpu", 1),
])
def test_parse_gpus(gres: str, gpus: int) -> None:
    assert parse_gpus(gres) == gpus

"""python -m launch against the real local Slurm: a bad request or config is one line, and nothing is queued.

Run with ``nox -s slurm`` (starts and stops the cluster).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from launch.__main__ import main as launch_main
from tests.support.slurm import TINY, queued_jobs

pytestmark = pytest.mark.slurm


@pytest.mark.parametrize(("extra", "message"), [
    (["--partition", "no-such-partition"], "unknown Slurm partition 'no-such-partition'; partitions: "),
    (["--gpus-per-node", "1"], "--gpus-per-node 1: partition '{p}' has no GPUs"),
    (["--nodes", "3"], "--nodes 3: partition '{p}' has 2 node(s)"),
    (["--model.lr", "-1"], "invalid training config: Expected `lr` finite and > 0, got -1.0."),
    (["--model.arch", "resnet"], "invalid training config: Parser key \"model.arch\""),
    (["--config", "no-such-preset"], "unknown preset 'no-such-preset'"),
    (["--sweep", "model.lr=1e-3,-1"], "sweep point {'model.lr': -1}: invalid training config: Expected `lr`"),
    (["--sweep", "model.nope=1,2"], "sweep key 'model.nope': no 'nope' in model"),
])
def test_bad_input_is_one_line_before_anything_is_queued(slurm_up: str, tmp_path: Path, capsys,
                                                         extra: list[str], message: str) -> None:
    before = queued_jobs()
    root = tmp_path / "bad"
    code = launch_main(["--dir", str(root), *TINY, "--trainer.max_steps", "2", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("launch: error: "), err
    assert message.replace("{p}", slurm_up) in err[0]
    assert not (root / "launch.json").exists() and not (root / "submitit").exists()
    assert queued_jobs() == before

"""launch.options: Slurm times, and the split of cluster options from regae fit's."""

from __future__ import annotations

import pytest

from launch.options import parse_options, parse_time
from launch.submit import default_name, trainer_settings
from regae.errors import ConfigError


@pytest.mark.parametrize(("text", "minutes"), [
    ("90", 90), ("45:00", 45), ("45:30", 46), ("1:30:00", 90), ("2:00:01", 121),
    ("2-00:00:00", 2880), ("1-12", 2160), ("1-12:30", 2190),
])
def test_parse_time(text: str, minutes: int) -> None:
    assert parse_time(text) == minutes



@pytest.mark.parametrize("text", ["", "1h", "0", "00:00"])
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="--time"):
        parse_time(text)



def test_options_split_cluster_from_fit_args() -> None:
    opts = parse_options(["--config", "contractive", "--nodes", "2", "--gpus-per-node", "4", "--time", "1:00:00",
                          "--model.lr", "0.01", "--sbatch", "constraint=a100", "--sbatch", "exclusive="])
    assert (opts.nodes, opts.gpus_per_node, opts.devices, opts.time_min) == (2, 4, 4, 60)
    assert opts.fit_argv == ["--config", "contractive", "--model.lr", "0.01"]
    assert opts.sbatch == {"constraint": "a100", "exclusive": True}
    settings = trainer_settings(opts, run_dir="/x")
    assert settings == {"accelerator": "gpu", "devices": 4, "num_nodes": 2, "strategy": "ddp", "default_root_dir": "/x"}
    assert default_name(opts.fit_argv) == "contractive"
    assert parse_options(["--tasks-per-node", "2"]).devices == 2
    assert parse_options([]).devices == 1



@pytest.mark.parametrize(("argv", "match"), [
    (["--nodes", "0"], "--nodes >= 1"),
    (["--gpus-per-node", "4", "--tasks-per-node", "2"], "must equal --gpus-per-node"),
    (["--cluster", "local", "--nodes", "2"], "needs --cluster slurm"),
    (["--cluster", "debug", "--tasks-per-node", "2"], "one task"),
    (["fit", "--model.lr", "1"], "drop the 'fit'"),
    (["--ckpt_path", "x.ckpt"], "set by the launcher"),
])
def test_options_reject(argv: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_options(argv)

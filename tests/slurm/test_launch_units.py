"""Pure pieces of launch/: option and time parsing, sweep grids, config paths, Gres, the table."""

from __future__ import annotations

import pytest

from launch.cluster import parse_gpus
from launch.config import grid, parse_sweeps, run_label, set_path
from launch.options import parse_options, parse_time
from launch.status import format_table
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


def test_sweep_grid_is_the_cartesian_product_first_key_slowest() -> None:
    sweeps = parse_sweeps(["model.regularizers.0.weight=1e-5,1e-3", "model.widths=[32,16],[64]", "data.batch_size=64"])
    assert sweeps == {"model.regularizers.0.weight": [1e-5, 1e-3], "model.widths": [[32, 16], [64]],
                      "data.batch_size": [64]}
    points = grid(sweeps)
    assert len(points) == 4
    assert [p["model.regularizers.0.weight"] for p in points] == [1e-5, 1e-5, 1e-3, 1e-3]
    assert [p["model.widths"] for p in points] == [[32, 16], [64], [32, 16], [64]]
    assert grid({}) == [{}]


@pytest.mark.parametrize("spec", ["model.lr", "=1,2", "model.lr="])
def test_bad_sweep_spec(spec: str) -> None:
    with pytest.raises(ConfigError, match="--sweep"):
        parse_sweeps([spec])


def test_set_path_through_lists_copies() -> None:
    config = {"model": {"regularizers": [{"name": "l1", "weight": 1.0}], "lr": 0.1}}
    out = set_path(config, "model.regularizers.0.weight", 0.5)
    assert out["model"]["regularizers"][0] == {"name": "l1", "weight": 0.5}
    assert config["model"]["regularizers"][0]["weight"] == 1.0  # original untouched
    with pytest.raises(ConfigError, match="no index '1'"):
        set_path(config, "model.regularizers.1.weight", 0.5)
    with pytest.raises(ConfigError, match="no 'lrr' in model"):
        set_path(config, "model.lrr", 0.5)
    with pytest.raises(ConfigError, match="is a value"):
        set_path(config, "model.lr.x", 0.5)


def test_run_label_is_directory_safe() -> None:
    assert run_label({"model.regularizers.0.weight": 1e-05, "model.widths": [32, 16]}) == "weight=1e-05-widths=_32,16_"
    assert run_label({}) == ""


@pytest.mark.parametrize(("gres", "gpus"), [
    ("(null)", 0), ("gpu:4", 4), ("gpu:a100:2(S:0-1)", 2), ("gpu:a100:2,gpu:v100:1", 3), ("shard:8", 0), ("gpu", 1),
])
def test_parse_gpus(gres: str, gpus: int) -> None:
    assert parse_gpus(gres) == gpus


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


def test_format_table_aligns_columns() -> None:
    text = format_table([{"run": "00", "step": 6, "val/psnr": 6.48812}, {"run": "01-long", "step": 12, "val/psnr": None}])
    assert text.splitlines() == [
        "run      step  val/psnr",
        "00       6     6.488",
        "01-long  12    -",
    ]

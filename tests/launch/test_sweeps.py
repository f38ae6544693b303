"""launch.sweeps: the grid of a sweep over dotted config keys, and directory-safe labels."""

from __future__ import annotations

import pytest

from launch.sweeps import grid, parse_sweeps, run_label, set_path
from regae.errors import ConfigError


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

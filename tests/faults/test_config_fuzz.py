"""Property-based fuzzing of configuration values: a valid tiny run or one clear error, never a
traceback from inside torch.

Two layers: the constructors (fast, many examples: every value the CLI could hand them) and the
whole ``regae fit`` command in-process (fewer examples: parse, build, one step, validate, test).
"""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import regae as rg
from regae.cli import main
from regae.errors import RegaeError
from tests.support.faults import error_lines

pytestmark = [pytest.mark.faults, pytest.mark.filterwarnings("ignore::UserWarning")]

NASTY = [0.0, -1.0, math.nan, math.inf, -math.inf]


@st.composite
def valid_model(draw) -> dict:
    """A configuration that must give a working model (small nets, sane values)."""
    arch = draw(st.sampled_from(["mlp", "conv", "unet"]))
    act = draw(st.sampled_from(["sigmoid", "relu", "none"]))
    if arch == "mlp":
        widths = draw(st.lists(st.integers(1, 8), max_size=2))
    else:
        widths = draw(st.lists(st.integers(1, 3), min_size=3, max_size=3))
    latent = None if arch == "conv" else draw(st.one_of(st.none(), st.integers(1, 12)))
    weight = st.floats(0, 1e-2)
    regs = [{"name": "l1", "weight": draw(weight)}, {"name": "weight_decay", "weight": draw(weight)}]
    if act == "sigmoid":
        regs.append({"name": "kl", "weight": draw(weight), "rho": draw(st.floats(0.01, 0.99))})
    modes = ["exact", "hutchinson"] + (["closed_form"] if arch == "mlp" and not widths and act == "sigmoid" else [])
    regs.append({"name": "contractive", "weight": draw(weight), "mode": draw(st.sampled_from(modes)),
                 "probes": draw(st.integers(1, 3))})
    kind = draw(st.sampled_from(["gaussian", "masking", "salt_and_pepper"]))
    level = draw(st.floats(0.01, 2.0 if kind == "gaussian" else 1.0))
    return {
        "arch": arch, "widths": widths, "latent_dim": latent, "latent_activation": act,
        "decoder": draw(st.sampled_from(["unpool", "deconv", "both"])),
        "loss": draw(st.sampled_from(["mse", "bce"])),
        "regularizers": draw(st.lists(st.sampled_from(regs), max_size=2, unique_by=lambda r: r["name"])),
        "corrupt": draw(st.one_of(st.none(), st.just(f"{kind}:{level}"))),
        "optimizer": draw(st.sampled_from(["adam", "adadelta", "sgd"])),
        "lr": draw(st.floats(1e-5, 1e-1)),
        "momentum": draw(st.floats(0, 0.99)),
        "history_every": draw(st.integers(1, 5)),
    }


def _with_reg(model: dict, reg: dict) -> dict:
    return {**model, "regularizers": [reg]}


#: one out-of-range or unknown value per mutation, applied to a valid configuration
MUTATIONS = {
    "latent_dim": lambda m, v: {**m, "latent_dim": v, "arch": "mlp"} if v is not None else m,
    "widths": lambda m, v: {**m, "widths": v},
    "latent_activation": lambda m, v: {**m, "latent_activation": v},
    "loss": lambda m, v: {**m, "loss": v},
    "optimizer": lambda m, v: {**m, "optimizer": v},
    "decoder": lambda m, v: {**m, "decoder": v, "arch": "conv", "widths": [2, 2, 2], "latent_dim": None},
    "lr": lambda m, v: {**m, "lr": v},
    "weight_decay": lambda m, v: {**m, "weight_decay": v},
    "momentum": lambda m, v: {**m, "momentum": v},
    "history_every": lambda m, v: {**m, "history_every": v},
    "corrupt": lambda m, v: {**m, "corrupt": v},
    "weight": lambda m, v: _with_reg(m, {"name": "l1", "weight": v}),
    "rho": lambda m, v: _with_reg({**m, "latent_activation": "sigmoid"}, {"name": "kl", "weight": 1e-3, "rho": v}),
    "regularizers": lambda m, v: {**m, "regularizers": v},
}
BAD_VALUES = {
    "latent_dim": st.sampled_from([0, -1, -7]),
    "widths": st.sampled_from([[0], [-1], [3, 0], [1, 2, 3, 4]]),  # [1,2,3,4]: fine for mlp and unet, not conv
    "latent_activation": st.sampled_from(["tanh", "", "Sigmoid"]),
    "loss": st.sampled_from(["l2", "MSE"]),
    "optimizer": st.sampled_from(["lbfgs", "Adam"]),
    "decoder": st.sampled_from(["pool", ""]),
    "lr": st.sampled_from(NASTY),
    "weight_decay": st.sampled_from([-1e-3, math.nan, math.inf]),
    "momentum": st.sampled_from([-0.5, math.nan, math.inf]),
    "history_every": st.sampled_from([0, -3]),
    "corrupt": st.sampled_from(["gaussian:0", "gaussian:-1", "gaussian:nan", "gaussian:inf", "masking:1.5",
                                "salt_and_pepper:0", "blur:0.3", "gaussian", "gaussian:abc", ":0.5"]),  # "" means none
    "weight": st.sampled_from([-1.0, math.nan, math.inf, "heavy", None]),
    "rho": st.sampled_from([0.0, 1.0, -0.5, 1.5, math.nan, math.inf]),
    "regularizers": st.sampled_from([
        [{"name": "sparse", "weight": 1.0}], [{"weight": 1.0}], [{"name": "l1"}], ["l1"],
        [{"name": "l1", "weight": 1.0, "gamma": 2.0}], [{"name": "l1", "weight": 1.0}, {"name": "l1", "weight": 2.0}],
        [{"name": "contractive", "weight": 1.0, "mode": "fast"}], [{"name": "contractive", "weight": 1.0, "probes": 0}],
        [{"name": "contractive", "weight": 1.0, "chunk_size": 0}],
        [{"name": "kl", "weight": 1.0, "rho": 0.05, "extra": 1}],
    ]),
}


@st.composite
def bad_model(draw) -> tuple[str, dict]:
    field = draw(st.sampled_from(sorted(MUTATIONS)))
    return field, MUTATIONS[field](draw(valid_model()), draw(BAD_VALUES[field]))


def _is_really_bad(field: str, model: dict) -> bool:
    """[1,2,3,4] widths are valid for an MLP and a 4-level U-Net (28 -> 14 -> 7 -> 3); everything
    else in BAD_VALUES must be refused."""
    return not (field == "widths" and model["arch"] in ("mlp", "unet") and all(w > 0 for w in model["widths"]))


def _one_step(model: rg.AutoEncoder) -> None:
    x = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    loss, out, terms = model._shared_step((x, torch.zeros(3)), "train")
    assert out.x_hat.shape == (3, 1, 28, 28) and out.h.shape == (3, model.latent_dim)
    assert all(torch.isfinite(v) for v in terms.values()), terms
    loss.backward()
    model.configure_optimizers()


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
@given(kwargs=valid_model())
def test_valid_configs_build_and_take_a_finite_step(kwargs):
    _one_step(rg.AutoEncoder(**kwargs))


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
@given(case=bad_model())
def test_one_bad_value_is_a_config_error_naming_it(case):
    field, kwargs = case
    try:
        model = rg.AutoEncoder(**kwargs)
    except RegaeError as exc:
        event(f"refused: {field}")
        named = {"regularizers": "regularizer|contractive"}.get(field, f"`{field}`")
        assert re.search(named, str(exc)) and "\n" not in str(exc), (field, str(exc))
        return
    assert not _is_really_bad(field, kwargs), f"accepted bad {field}: {kwargs}"
    _one_step(model)


DATA_BAD = {"batch_size": [0, -1], "val_size": [-5, 60_000], "limit_train": [0, -1], "limit_test": [0, -2]}


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
@given(batch_size=st.sampled_from([1, 2, 7, 100_000]), val_size=st.sampled_from([0, 1, 8, 59_999]),
       limit_train=st.sampled_from([None, 1, 3, 16]), limit_test=st.sampled_from([None, 1, 5]),
       bad=st.one_of(st.none(), st.sampled_from([(k, v) for k, vs in DATA_BAD.items() for v in vs])))
def test_datamodule_sizes_work_or_are_refused(batch_size, val_size, limit_train, limit_test, bad):
    kwargs = {"batch_size": batch_size, "val_size": val_size, "limit_train": limit_train, "limit_test": limit_test}
    if bad is not None:
        kwargs[bad[0]] = bad[1]
        with pytest.raises(RegaeError, match=bad[0]):
            rg.MNISTDataModule(**kwargs, on_device=False)
        return
    dm = rg.MNISTDataModule(**kwargs, on_device=False)
    dm.setup("fit")
    n_train = min(60_000 - val_size, limit_train or 60_000)
    loader = dm.train_dataloader()
    assert len(loader) == -(-n_train // batch_size)
    sizes = [len(x) for x, _ in loader]
    assert sum(sizes) == n_train and max(sizes) == min(batch_size, n_train)


def cli_args(model: dict, data: dict, root) -> list[str]:
    args = ["fit", "--trainer.max_steps", "1", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false", "--trainer.default_root_dir", str(root)]
    for key, value in model.items():
        text = "null" if value is None else json.dumps(value) if isinstance(value, (list, dict)) else str(value)
        args.append(f"--model.{key}={text}")
    args += [f"--data.{key}={'null' if value is None else value}" for key, value in data.items()]
    return args


TINY_DATA = st.fixed_dictionaries({
    "batch_size": st.sampled_from([1, 2, 7, 100_000]),
    "limit_train": st.sampled_from([1, 3, 16]),
    "limit_test": st.sampled_from([1, 5]),
    "val_size": st.sampled_from([1, 8]),
})


PARSER_CHECKED = {"lr", "weight_decay", "momentum", "latent_activation", "loss", "optimizer", "decoder"}


@st.composite
def cli_model(draw) -> dict:
    """Mostly valid configurations, a third with one bad value. Left to the parser (and to
    test_invalid_choice_through_the_cli_is_a_parser_error): inf/nan for float options and
    values outside a Literal, which jsonargparse refuses before regae sees them."""
    if draw(st.integers(0, 2)) == 0:
        field = draw(st.sampled_from(sorted(set(MUTATIONS) - PARSER_CHECKED)))
        model = MUTATIONS[field](draw(valid_model()), draw(BAD_VALUES[field]))
    else:
        model = draw(valid_model())
    return model


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
@given(model=cli_model(), data=TINY_DATA)
def test_fit_command_runs_or_prints_one_error_line(model, data, tmp_path_factory, capsys):
    root = tmp_path_factory.mktemp("fuzz")
    code = main(cli_args(model, data, root))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    event(f"exit {code}")
    if code == 0:
        ckpt = rg.read_checkpoint(root / "checkpoints/last.ckpt")
        assert ckpt["global_step"] == 1
        assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values())
    else:
        assert code == 2 and len(error_lines(err)) == 1, err[-1500:]


def test_invalid_choice_through_the_cli_is_a_parser_error(capsys):
    assert main(["fit", "--model.arch", "transformer"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model.arch" in err and "transformer" in err  # one line, not the usage

"""Shared fixtures for the demo tests: one analysed predictor over the slim test checkpoints per session,
one over the default (full-size) checkpoints when a browser or slow test asks, and one over tiny
checkpoints of other datasets (trained here, once per session, when a test asks)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

import pytest
import torch

from demo.insight import Reference
from demo.predictor import Predictor, training_data
from tests.demo.paths import DEFAULT, SLIM
from tests.support.demo import small_reference
from tests.support.helpers import TINY, run_cli


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """The demo computes with one torch thread (``python -m demo --threads 1``); so do its tests."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def demo_tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("demo-tmp")


@pytest.fixture(scope="module", autouse=True)
def temp_files_under_basetemp(demo_tmp):
    """Gradio's cache and uploads, and gradio_client's downloads, go under pytest's basetemp.

    Left alone they go to /tmp/gradio, and gradio_client leaves one empty /tmp/<40 hex> folder
    behind per downloaded file.
    """
    env, tmp = os.environ.get("GRADIO_TEMP_DIR"), tempfile.tempdir
    os.environ["GRADIO_TEMP_DIR"] = str(demo_tmp / "gradio")
    tempfile.tempdir = str(demo_tmp)
    yield
    tempfile.tempdir = tmp
    if env is None:
        os.environ.pop("GRADIO_TEMP_DIR", None)
    else:
        os.environ["GRADIO_TEMP_DIR"] = env


@pytest.fixture(scope="session", autouse=True)
def analysis_cache_under_basetemp(tmp_path_factory):
    """``python -m demo`` started by a test keeps its analysis cache under pytest's basetemp, not in ~/.cache."""
    from demo.cache import ENV

    before = os.environ.get(ENV)
    os.environ[ENV] = str(tmp_path_factory.mktemp("demo-cache"))
    yield
    if before is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = before


@pytest.fixture(scope="session")
def slim() -> Predictor:
    """The slim test checkpoints (tests/demo/checkpoints), loaded and analysed on all of MNIST (as the app does), once."""
    predictor = Predictor(SLIM)
    assert predictor.status() == {name: None for name in predictor.names()}
    return predictor


@pytest.fixture(scope="session")
def default() -> Predictor:
    """What ``python -m demo`` serves (demo/checkpoints, the report's models), analysed on all of MNIST, once
    (no cache: computed here, about a minute on the shared 2-core machine)."""
    predictor = Predictor(DEFAULT)
    assert predictor.status() == {name: None for name in predictor.names()}
    return predictor


class OwnData(NamedTuple):
    """A checkpoint folder of several datasets and where their data lies."""

    folder: Path  # cells.ckpt (RGB 32x32 folder, 3 classes), patches.ckpt (grey 48x48 npz), noise.ckpt
    #               (unlabelled 16x16 npy), sparse.ckpt (the slim MNIST test model)
    cells: Path  # the image folder
    patches: Path  # the .npz
    noise: Path  # the .npy


def fit_own(root: Path, data_args: list[str], *extra: str, config: str = "sparse", steps: int = 3) -> Path:
    """`regae fit` for a few steps on one dataset; its last.ckpt."""
    code, _, err = run_cli("fit", "--config", config, "--trainer.default_root_dir", str(root),
                           "--trainer.max_steps", str(steps), *TINY, *data_args, *extra)
    assert code == 0, err[-3000:]
    return root / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="session")
def own_data(tmp_path_factory) -> OwnData:
    """Tiny checkpoints trained with `regae fit` on generated data (as tests/cli/test_own_data.py does)."""
    import numpy as np

    from tests.support.owndata import make_grey_npz, make_rgb_folder

    tmp = tmp_path_factory.mktemp("own-data")
    folder = tmp / "checkpoints"
    folder.mkdir()
    cells = make_rgb_folder(tmp / "cells", per_class=30)
    patches = make_grey_npz(tmp / "patches.npz", n=120, size=48)
    noise = tmp / "noise.npy"
    np.save(noise, np.random.default_rng(0).integers(0, 256, (40, 16, 16), dtype=np.uint8))
    runs = {
        "cells": fit_own(tmp / "run-cells", ["--data.dataset", f"folder:{cells}"], "--model.widths", "[4, 8, 8]"),
        "patches": fit_own(tmp / "run-patches", ["--data.dataset", f"npz:{patches}"], config="conv-unpool"),
        "noise": fit_own(tmp / "run-noise", ["--data.dataset", f"npy:{noise}"], "--model.widths", "[4, 8]", steps=2),
    }
    for name, ckpt in runs.items():
        shutil.copy(ckpt, folder / f"{name}.ckpt")
    shutil.copy(SLIM / "sparse.ckpt", folder / "sparse.ckpt")
    return OwnData(folder, cells, patches, noise)


def own_or_small_mnist(model) -> Reference:
    """Each checkpoint's own data, but a slice of MNIST for MNIST models (seconds, not half a minute)."""
    return small_reference() if model.data_record is None else training_data(model)


@pytest.fixture(scope="session")
def own(own_data) -> Predictor:
    """A predictor over the own-data folder, every checkpoint loaded and analysed."""
    predictor = Predictor(own_data.folder, reference=own_or_small_mnist)
    assert predictor.status() == {name: None for name in predictor.names()}
    return predictor

"""Shared fixtures for the demo tests: one analysed predictor over the shipped checkpoints per session."""

from __future__ import annotations

import os
import tempfile

import pytest
import torch

from demo.predictor import Predictor
from tests.demo.helpers import SHIPPED


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


@pytest.fixture(scope="session")
def shipped() -> Predictor:
    """The shipped checkpoints, loaded and analysed on all of MNIST (as the app does), once."""
    predictor = Predictor(SHIPPED)
    assert predictor.status() == {name: None for name in predictor.names()}
    return predictor

"""Shared fixtures for the demo tests: one analysed predictor over the shipped checkpoints per session."""

from __future__ import annotations

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
def shipped() -> Predictor:
    """The shipped checkpoints, loaded and analysed on all of MNIST (as the app does), once."""
    predictor = Predictor(SHIPPED)
    assert predictor.status() == {name: None for name in predictor.names()}
    return predictor

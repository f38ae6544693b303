"""The diagnosis of a missed target: the curve's last-quarter gain and the train/validation gap."""

import math
from types import SimpleNamespace

import pytest
import torch

from regae.study.convergence import FLAT_DB, diagnosis, generalisation_gap, why_missed

GAP = {"estimate": 2.71, "ci_low": 2.59, "ci_high": 2.82, "p": 1e-4, "n_boot": 10_000}
NO_GAP = {**GAP, "estimate": 0.4, "ci_low": 0.2, "p": 1e-3}  # significant, but under 1 dB


def test_the_diagnosis_turns_on_the_flat_threshold_and_the_gap_s_lower_end():
    assert diagnosis(FLAT_DB, NO_GAP) == "rising" and diagnosis(FLAT_DB - 1e-9, NO_GAP) == "converged"
    assert diagnosis(0.0, GAP) == "gap" and diagnosis(0.0, {**GAP, "ci_low": 0.99}) == "converged"
    assert diagnosis(0.0, {**GAP, "p": 0.2}) == "converged"  # a wide interval is no gap
    assert diagnosis(0.3, GAP) == "rising"  # still rising: the budget comes first
    kind, text = why_missed(-0.02, NO_GAP)
    assert kind == "converged" and "(-0.02 dB over the last quarter) without a train/validation gap of 1 dB" in text


def test_a_net_that_returns_the_training_mean_has_a_gap_of_the_closed_form_size():
    """A net that outputs the training set's mean image: its PSNR on each set is 10 log10(1 / mean
    squared distance to that mean), so training images (drawn from [0, 0.2]) beat validation images
    (from [0, 1]) by a margin known in advance, and the interval is well above 1 dB."""
    g = torch.Generator().manual_seed(0)
    x_train, x_val = torch.rand(300, 1, 4, 4, generator=g) * 0.2, torch.rand(200, 1, 4, 4, generator=g)
    mean = x_train.mean(0, keepdim=True)

    class Mean(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return SimpleNamespace(x_hat=mean.expand_as(x))

    gap = generalisation_gap(Mean(), x_train, x_val)
    expect = [10 * math.log10(1 / float((x - mean).pow(2).mean())) for x in (x_train, x_val)]
    assert gap["train_psnr"] == pytest.approx(expect[0], abs=1e-4) and gap["val_psnr"] == pytest.approx(expect[1], abs=1e-4)
    assert gap["n_train"] == 300 and gap["n_val"] == 200 and gap["p"] < 0.01 and gap["ci_low"] > 5
    assert gap["estimate"] == pytest.approx(expect[0] - expect[1], abs=1e-4) and diagnosis(0.0, gap) == "gap"

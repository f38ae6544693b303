"""The study's comparisons: numbers worked out by hand, and verdicts that follow p."""

import math

import numpy as np
import pytest
import torch

from regae.study.compare import (
    accuracy_text,
    compare_accuracy,
    compare_means,
    compare_psnr,
    per_image_mse,
    pm,
    seeds_mean,
    seeds_psnr,
    short,
)


def test_per_image_mse_and_seeds_psnr_by_hand():
    x = torch.zeros(2, 1, 2, 2)
    x_hat = torch.tensor([0.1, 0.1, 0.1, 0.1, 0.2, 0.0, 0.0, 0.0]).view(2, 1, 2, 2)
    assert per_image_mse(x_hat, x) == pytest.approx([0.01, 0.01])
    # two seeds: pooled errors 0.01 (20 dB) and 0.001 (30 dB) -> mean 25, std 7.07, t(1) interval
    s = seeds_psnr(np.array([[0.01, 0.01], [0.001, 0.001]]))
    assert s["per_seed"] == pytest.approx([20.0, 30.0])
    assert s["mean"] == pytest.approx(25.0) and s["std"] == pytest.approx(math.sqrt(50))
    assert s["ci_high"] - s["mean"] == pytest.approx(12.706 * math.sqrt(50) / math.sqrt(2), rel=1e-3)
    one = seeds_psnr(np.array([0.01, 0.01]))
    assert one["mean"] == pytest.approx(20.0) and one["std"] is None
    assert pm(s) == "25.00 ± 7.07" and pm(one) == "20.00" and pm(seeds_mean([0.5, 0.7]), 1, 100) == "60.0 ± 14.1"


def test_psnr_verdict_follows_p():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.005, 0.02, size=(1, 500))
    better = base * 0.5  # halving every error: +3.01 dB on every resample
    res = compare_psnr("A", better, "B", base)
    assert res["estimate"] == pytest.approx(10 * math.log10(2), abs=1e-9)
    assert res["p"] < 0.05 and res["verdict"].startswith("A is better than B")
    assert short(res).startswith("A is better than B (p < ")
    # the same errors in a different order of images: no real difference
    noise = rng.permutation(base[0])[None]
    same = compare_psnr("A", noise, "B", base)
    assert same["p"] >= 0.05 and same["verdict"].startswith("no significant difference between A and B")
    assert f"p = {same['p']:.3f}" in same["verdict"]


def test_means_with_lower_is_better_and_seeds_averaged():
    a = np.array([[0.1] * 200, [0.3] * 200])  # per-image mean over seeds 0.2
    b = np.full(200, 0.5)
    res = compare_means("A", a, "B", b, "", higher_is_better=False)
    assert res["estimate"] == pytest.approx(-0.3) and res["verdict"].startswith("A is better than B")
    pct = compare_means("A", a, "B", b, "points", scale=100, digits=1)
    assert pct["estimate"] == pytest.approx(-30.0) and pct["verdict"].startswith("B is better than A")


def test_accuracy_mcnemar_exact():
    # A right on 10 items where B is wrong, never the other way: p = 2 * 0.5^10
    a = np.ones(100, bool)
    b = np.ones(100, bool)
    b[:10] = False
    res = compare_accuracy("A", [a], "B", [b])
    assert res["test"] == "exact McNemar" and res["p"] == pytest.approx(2 * 0.5**10)
    assert res["diff_points"] == pytest.approx(10.0) and res["verdict"].startswith("A is better than B")
    # 3 discordant items each way: p = 1, no significant difference
    b2 = np.ones(100, bool)
    b2[:3] = False
    a2 = np.ones(100, bool)
    a2[3:6] = False
    tie = compare_accuracy("A", [a2], "B", [b2])
    assert tie["p"] == pytest.approx(1.0) and tie["verdict"].startswith("no significant difference")


def test_accuracy_text():
    assert accuracy_text({"accuracy": 0.9, "ci_low": 0.85, "ci_high": 0.93, "std_over_seeds": None}) == "90.0 % [85.0, 93.0]"
    assert accuracy_text({"accuracy": 0.9, "ci_low": 0.85, "ci_high": 0.93, "std_over_seeds": 0.01}) == \
        "90.0 ± 1.0 % [85.0, 93.0]"

"""Intervals and paired tests on cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from regae.reports.stats import (
    accuracy,
    accuracy_summary,
    error_side,
    fmt_p,
    mcnemar,
    mean_interval,
    paired_bootstrap,
    paired_difference_interval,
    pooled_psnr,
    psnr_difference,
    verdict,
    wilson_interval,
)


def test_wilson_worked_example() -> None:
    # k = 81, n = 100, z = 1.959964: centre (81 + 1.92073)/103.84146, half 1.959964·sqrt(15.39 + 0.96036)/103.84146
    z = 1.959963984540054
    centre = (81 + z * z / 2) / (100 + z * z)
    half = z * math.sqrt(81 * 19 / 100 + z * z / 4) / (100 + z * z)
    assert wilson_interval(81, 100) == pytest.approx((centre - half, centre + half), rel=1e-12)
    assert wilson_interval(81, 100) == pytest.approx((0.7222, 0.8749), abs=1e-4)  # published tables
    lo, hi = wilson_interval(0, 50)
    assert lo == 0 and 0 < hi < 0.08  # never a zero-width interval at the edge


def test_wilson_coverage_on_simulated_binomials() -> None:
    rng = np.random.default_rng(0)
    for n, p in [(200, 0.9), (1000, 0.97), (10_000, 0.5)]:
        ks = rng.binomial(n, p, size=4000)
        covered = np.mean([lo <= p <= hi for lo, hi in (wilson_interval(int(k), n) for k in ks)])
        assert 0.935 <= covered <= 0.965, (n, p, covered)


def test_accuracy_dict() -> None:
    acc = accuracy(np.r_[np.ones(90), np.zeros(10)])
    assert acc["accuracy"] == 0.9 and acc["n"] == 100 and acc["ci_low"] < 0.9 < acc["ci_high"]


def test_the_error_side_is_the_wilson_interval_of_the_wrong_items() -> None:
    correct = np.arange(200) % 10 != 0  # 180 right, 20 wrong
    err = error_side(accuracy_summary([correct]))
    assert err["error"] == pytest.approx(0.1) and err["n_test"] == 200
    assert (err["ci_low"], err["ci_high"]) == pytest.approx(wilson_interval(20, 200), rel=1e-12)
    assert error_side(accuracy_summary([np.ones(48, bool)]))["ci_high"] == pytest.approx(1 - wilson_interval(48, 48)[0])


def test_mcnemar_identical_predictions_p_is_one() -> None:
    c = np.random.default_rng(1).random(1000) < 0.9
    assert mcnemar(c, c) == {"a_only": 0, "b_only": 0, "p": 1.0}


def test_mcnemar_planted_difference() -> None:
    rng = np.random.default_rng(2)
    a = rng.random(10_000) < 0.97
    b = a.copy()
    b[np.flatnonzero(a)[:300]] = False  # B wrong on 300 items A gets right, never the other way
    r = mcnemar(a, b)
    assert (r["a_only"], r["b_only"]) == (300, 0) and r["p"] < 1e-6
    assert r["p"] == pytest.approx(2 * 0.5 ** 300, rel=1e-9)


def test_mcnemar_exact_small_case() -> None:
    # b = 1, c = 5: p = 2 · P(X ≤ 1 | 6, ½) = 2 · 7/64
    a = np.array([1, 0, 0, 0, 0, 0, 1], bool)
    b = np.array([0, 1, 1, 1, 1, 1, 1], bool)
    assert mcnemar(a, b)["p"] == pytest.approx(14 / 64)


def test_paired_bootstrap_identical_is_p_one_and_zero_interval() -> None:
    x = np.random.default_rng(3).random(500)
    r = paired_bootstrap(x, x, n_boot=2000)
    assert r["estimate"] == 0 and r["ci_low"] == r["ci_high"] == 0 and r["p"] == 1.0


def test_paired_bootstrap_planted_difference_hits_the_resolution_floor() -> None:
    rng = np.random.default_rng(4)
    a = rng.random(2000)
    r = paired_bootstrap(a + 0.2, a + rng.normal(0, 0.01, 2000), n_boot=4000)
    assert r["estimate"] == pytest.approx(0.2, abs=0.002) and r["ci_low"] > 0.19
    assert r["p"] == pytest.approx(2 / 4001)
    assert fmt_p(r["p"], 4000).startswith("p < 5.0e-04")


def test_paired_bootstrap_interval_coverage() -> None:
    """Mean difference of paired normals: the 95 % interval covers the truth ~95 % of the time."""
    rng = np.random.default_rng(5)
    hits = 0
    reps = 300
    for r in range(reps):
        a = rng.normal(0.3, 1.0, 200)
        b = a - 0.3 + rng.normal(0, 1.0, 200)  # mean(a - b) = 0.3
        res = paired_bootstrap(a, b, n_boot=1000, seed=r)
        hits += res["ci_low"] <= 0.3 <= res["ci_high"]
    assert 0.91 <= hits / reps <= 0.98


def test_psnr_difference_pools_mse() -> None:
    sq_a = np.full(100, 0.01)  # 20 dB
    sq_b = np.full(100, 0.001)  # 30 dB
    r = psnr_difference(sq_a, sq_b, n_boot=500)
    assert r["estimate"] == pytest.approx(-10.0) and r["ci_low"] == pytest.approx(-10.0)
    # two seeds per model: the model's PSNR is the mean of its seeds' pooled PSNRs
    two = psnr_difference(np.stack([sq_a, sq_a / 10]), np.stack([sq_b, sq_b]), n_boot=200)
    assert two["estimate"] == pytest.approx((20 + 30) / 2 - 30)
    assert pooled_psnr(np.array([0.01, 0.03])) == pytest.approx(10 * math.log10(1 / 0.02))


def test_mean_interval_t() -> None:
    r = mean_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t_{0.975, 2} · s / √n
    assert (r["mean"], r["std"]) == (2.0, 1.0) and r["ci_high"] == pytest.approx(2 + half)
    assert mean_interval([5.0])["std"] is None


def test_verdict_sentences() -> None:
    assert verdict("A", "B", 0.4, (-0.1, 0.9), 0.2, "dB").startswith("no significant difference between A and B")
    s = verdict("A", "B", -1.5, (-2.0, -1.0), 1e-5, "points")
    assert s.startswith("B is better than A") and "p = 1.0e-05" in s
    assert verdict("A", "B", 2.0, (1.0, 3.0), 0.001, "dB").startswith("A is better than B")


def test_paired_difference_interval_worked_example() -> None:
    # b = 30, c = 10 on n = 1000: d = 0.02, se = sqrt(40 - 400/1000)/1000 = 0.0062929
    lo, hi = paired_difference_interval(30, 10, 1000)
    se = math.sqrt(40 - 0.4) / 1000
    assert (lo, hi) == pytest.approx((0.02 - 1.959963985 * se, 0.02 + 1.959963985 * se), rel=1e-8)
    assert paired_difference_interval(0, 0, 50) == (0.0, 0.0)


def test_pairwise_runs_the_test_on_every_pair_in_order_and_says_the_verdict():
    from regae.reports.stats import paired_bootstrap, pairwise

    rng = np.random.default_rng(0)
    base = rng.normal(size=500)
    values = {"a": base + 1.0, "b": base, "c": base + rng.normal(scale=1e-3, size=500)}
    out = pairwise(values, paired_bootstrap, "dB", seed=0)
    assert [(r["a"], r["b"]) for r in out] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert out[0]["estimate"] == pytest.approx(1.0) and out[0]["sentence"].startswith("a is better than b")
    assert "no significant difference" in out[2]["sentence"]


def test_unpaired_psnr_difference_on_sets_of_different_sizes():
    """Two draws of one distribution: no significant difference; errors 10x smaller: +10 dB, p tiny."""
    from regae.reports.stats import unpaired_psnr_difference

    rng = np.random.default_rng(1)
    a, b = rng.gamma(2.0, 0.005, size=3000), rng.gamma(2.0, 0.005, size=2000)
    same = unpaired_psnr_difference(a, b, n_boot=2000)
    assert same["p"] > 0.05 and same["ci_low"] < 0 < same["ci_high"]
    far = unpaired_psnr_difference(a / 10, b, n_boot=2000)
    assert far["estimate"] == pytest.approx(10 + 10 * np.log10(b.mean() / a.mean()))
    assert far["p"] < 1e-3 and far["ci_low"] > 9

"""The GPU check (benchmarks/gpu/, issue #26) stays runnable without a GPU.

The fast tests pin its time arithmetic (deadline, early stop, extrapolation of a 20-epoch fit)
and the table it hands back. The slow one runs the whole check on the CPU with tiny sizes (the dry
run, ``--device cpu --quick``) and reads the JSON it writes: every stage ran and gave real numbers.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks.gpu.budget import Deadline, epochs_that_fit, extrapolate_fit, largest_within, should_stop, verdict
from benchmarks.gpu.results import Results, format_value, markdown_table, row, tally

ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_deadline_counts_from_its_start_and_keeps_the_reserve():
    clock = FakeClock(1000.0)
    d = Deadline(450, clock=clock, start=990.0)
    assert d.elapsed() == 10.0 and d.remaining() == 440.0
    assert d.allowed(reserve_s=100) == 340.0
    assert d.allowed(reserve_s=100, cap_s=60) == 60.0
    assert d.allows(340, reserve_s=100) and not d.allows(341, reserve_s=100)
    clock.now = 1500.0
    assert d.remaining() == 0.0 and d.allowed(reserve_s=5) == 0.0
    with pytest.raises(ValueError):
        Deadline(0)


def test_a_fit_stops_when_one_more_mean_epoch_would_overrun():
    assert not should_stop(elapsed_s=50, epoch_s=[10, 12], allowed_s=62)  # 50 + 11 = 61 fits
    assert should_stop(elapsed_s=50, epoch_s=[10, 12], allowed_s=60.5)
    assert should_stop(elapsed_s=50, epoch_s=[10, 12], allowed_s=62, reserve_s=2)  # the test pass counts too
    assert should_stop(elapsed_s=61, epoch_s=[], allowed_s=60)


def test_twenty_epochs_are_extrapolated_from_the_epochs_run_and_say_so():
    # 30 s in all, 24 s of it in 4 epochs: 6 s outside the epochs + 6 s per epoch x 20
    assert extrapolate_fit(wall_s=30, fit_s=24, epochs_done=4, total_epochs=20) == (126.0, True)
    assert extrapolate_fit(wall_s=30, fit_s=24, epochs_done=2.5, total_epochs=20) == (198.0, True)
    assert extrapolate_fit(wall_s=55.5, fit_s=50, epochs_done=20, total_epochs=20) == (55.5, False)
    with pytest.raises(ValueError):
        extrapolate_fit(wall_s=10, fit_s=0, epochs_done=0, total_epochs=20)


def test_epochs_that_fit_and_the_largest_batch_within_tolerance():
    assert epochs_that_fit(allowed_s=100, fixed_s=10, epoch_s=7, wanted=20) == 12
    assert epochs_that_fit(allowed_s=500, fixed_s=10, epoch_s=7, wanted=20) == 20
    assert epochs_that_fit(allowed_s=5, fixed_s=10, epoch_s=7, wanted=20) == 1
    psnr = {128: 20.0, 512: 19.85, 2048: 19.5}
    assert largest_within(psnr, reference=128, tolerance_db=0.2) == 512
    assert largest_within({**psnr, 2048: 20.3}, reference=128, tolerance_db=0.2) == 2048
    assert largest_within({512: 19.0}, reference=128, tolerance_db=0.2) is None


def test_verdicts():
    assert verdict(59.9, 60) == "PASS" and verdict(60.1, 60) == "FAIL"
    assert verdict(0.4, 0.5, ">=") == "FAIL" and verdict(0.5, 0.5, ">=") == "PASS"
    assert verdict(3.0, None) == "INFO" and verdict(None, 60) == "SKIP" and verdict(math.nan, 60) == "SKIP"
    with pytest.raises(ValueError):
        verdict(1.0, 2.0, "==")


def test_numbers_in_the_table():
    assert [format_value(v) for v in (12345.6, 245.25, 0.5, 1.2e-7, 0.0, 12000, 3, None, True)] == [
        "12,346", "245.2", "0.5", "1.20e-07", "0", "12,000", "3", "—", "true"]


def test_a_row_carries_unit_target_and_verdict_and_never_a_placeholder():
    r = row("sparse: 20-epoch fit, wall", 48.25, "s", 60)
    assert r == {"figure": "sparse: 20-epoch fit, wall", "value": 48.25, "unit": "s", "target": "<= 60 s",
                 "verdict": "PASS", "note": ""}
    assert row("share", 0.31, "(fraction)", 0.5, op=">=")["verdict"] == "FAIL"
    lost = row("graph", math.inf, "images/s", note="overflow")
    assert lost["value"] is None and lost["verdict"] == "SKIP" and lost["note"] == "overflow; value inf"
    with pytest.raises(ValueError, match="needs a note"):
        row("compile", None, "images/s")


def test_the_summary_table_and_its_last_line(tmp_path):
    stages = {
        "sparse": {"status": "done", "rows": [row("20-epoch fit | wall", 48.25, "s", 60, note="measured")]},
        "compile": {"status": "skipped", "rows": [], "note": "12 s left"},
    }
    assert markdown_table(stages).splitlines() == [
        "| stage | figure | value | target | verdict | note |",
        "| --- | --- | --- | --- | --- | --- |",
        "| sparse | 20-epoch fit \\| wall | 48.25 s | <= 60 s | PASS | measured |",
        "| compile | (skipped) | — | — | SKIPPED | 12 s left |",
    ]
    assert tally(stages) == "targets: 1 PASS; stages: 1 done, 1 skipped"
    results = Results(tmp_path / "out", {"device": "NVIDIA H100 80GB HBM3", "torch": "2.11.0", "budget_s": 450.0,
                                         "used_s": 12.5})
    results.record("sparse", "the seed's fit", "done", 50.123, stages["sparse"]["rows"])
    saved = json.loads((tmp_path / "out" / "gpu-check.json").read_text())
    assert saved["stages"]["sparse"]["seconds"] == 50.12 and saved["meta"]["device"] == "NVIDIA H100 80GB HBM3"
    md = (tmp_path / "out" / "gpu-check.md").read_text()
    assert "Device: **NVIDIA H100 80GB HBM3**" in md and md.rstrip().endswith("targets: 1 PASS; stages: 1 done")


def test_the_epoch_clock_stops_a_fit_that_would_overrun():
    from benchmarks.gpu.fitrun import EpochClock

    trainer = SimpleNamespace(should_stop=False, current_epoch=3, max_epochs=20)
    clock = EpochClock(allowed_s=105, start=time.perf_counter() - 100)  # 100 s gone, 5 left
    clock.epoch_s = [10.0]
    clock._epoch_start = time.perf_counter() - 10
    clock.on_train_epoch_end(trainer, None)
    assert trainer.should_stop and clock.stopped_early and len(clock.epoch_s) == 2
    trainer = SimpleNamespace(should_stop=False, current_epoch=3, max_epochs=20)
    roomy = EpochClock(allowed_s=1000, start=time.perf_counter())
    roomy._epoch_start = time.perf_counter()
    roomy.on_train_epoch_end(trainer, None)
    assert not trainer.should_stop and not roomy.stopped_early
    capped = EpochClock(allowed_s=1000, stop_after=1)
    capped._epoch_start = time.perf_counter()
    capped.on_train_epoch_end(trainer, None)
    assert trainer.should_stop


@pytest.mark.slow
def test_the_dry_run_runs_every_stage_with_real_numbers(tmp_path):
    from benchmarks.gpu.check import STAGES

    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("OUT", None)
    proc = subprocess.run([sys.executable, "benchmarks/gpu/check.py", "--device", "cpu", "--quick", "--budget-s", "900",
                           "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.rstrip().splitlines()[-1].startswith("targets: "), proc.stdout[-2000:]
    saved = json.loads((out / "gpu-check.json").read_text())
    assert list(saved["stages"]) == [s.name for s in STAGES]
    for name, stage in saved["stages"].items():
        assert stage["status"] == "done", (name, stage["error"] or stage["note"])
        numbers = [r["value"] for r in stage["rows"] if r["value"] is not None]
        assert numbers and all(math.isfinite(v) for v in numbers), name
        for r in stage["rows"]:
            assert r["unit"] is not None and (r["value"] is not None or r["note"]), (name, r)
            assert r["verdict"] in ("PASS", "INFO", "SKIP"), (name, r)  # the dry run compares the CPU with itself
    rows = {r["figure"]: r for s in saved["stages"].values() for r in s["rows"]}
    fit = next(r for f, r in rows.items() if f.startswith("sparse: 20-epoch"))
    assert fit["value"] > 0 and fit["note"].startswith("extrapolated from 2 of 20 epochs")
    assert saved["meta"]["quick"] is True and saved["meta"]["used_s"] > 0
    assert (out / "gpu-check.md").read_text().count("\n| ") == sum(len(s["rows"]) for s in saved["stages"].values()) + 2

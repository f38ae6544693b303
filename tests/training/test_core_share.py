"""regae.training.core_share: a CPU run's thread count follows the cores other processes leave free."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.accelerators import CPUAccelerator

from regae.data.datamodule import MNISTDataModule
from regae.model.autoencoder import AutoEncoder
from regae.threads.count import fair_threads
from regae.threads.cpu_use import Sample, others_between, others_cpu_use
from regae.training import core_share as cores
from regae.training.core_share import CoreShare
from tests.support.helpers import fit_tiny


def test_others_are_all_busy_time_minus_this_process_s() -> None:
    a = Sample(busy=1000, total=4000, cpu=10.0, wall=100.0)
    # 2 CPUs, 1 s: 150 of 200 ticks busy = 1.5 cores, of which this process used 0.5 s -> others 1.0
    assert others_between(a, Sample(1150, 4200, 10.5, 101.0), n=2) == pytest.approx(1.0)
    assert others_between(a, Sample(1000, 4200, 10.0, 101.0), n=2) == 0.0  # an idle machine
    assert others_between(a, Sample(1010, 4200, 10.5, 101.0), n=2) == 0.0  # tick rounding never goes below 0
    assert others_between(a, Sample(1000, 4000, 10.0, 101.0), n=2) is None  # no tick passed: nothing known


@pytest.mark.parametrize(("others", "n", "most", "threads"), [
    (0.0, 2, 2, 2), (0.4, 2, 2, 2), (0.6, 2, 2, 1), (1.0, 2, 2, 1), (1.9, 2, 2, 1),  # at least one thread
    (0.0, 8, 4, 4),  # never more than the run started with
    (2.2, 8, 8, 6), (2.6, 8, 8, 5),
])
def test_threads_are_the_cores_the_others_leave(others: float, n: int, most: int, threads: int) -> None:
    assert fair_threads(others, n, most) == threads


def trainer(**kw) -> SimpleNamespace:
    return SimpleNamespace(**{"accelerator": CPUAccelerator(), "world_size": 1, **kw})


def test_it_chooses_only_where_the_count_is_regae_s_to_choose(monkeypatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    share = CoreShare()
    assert share.applies(trainer())
    assert not share.applies(trainer(world_size=2))  # DDP: Lightning gives each process cores // n
    assert not share.applies(trainer(accelerator=object()))  # not a CPU run
    monkeypatch.setattr(torch, "are_deterministic_algorithms_enabled", lambda: True)
    assert not share.applies(trainer())  # --trainer.deterministic: one thread count, sums in one order
    monkeypatch.undo()
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert not share.applies(trainer())  # the user's count


def test_an_idle_run_keeps_its_threads_and_ends_with_them(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    fit_tiny(tmp_path, steps=3)
    assert torch.get_num_threads() == before


class Seen(pl.Callback):
    def __init__(self) -> None:
        self.threads: list[int] = []

    def on_train_batch_end(self, *args) -> None:
        self.threads.append(torch.get_num_threads())


def test_a_busy_run_trains_on_the_free_cores_and_ends_with_its_own_count(monkeypatch) -> None:
    """With other processes reported at 1.5 of 2 cores, the run trains on 1 thread from its
    first batch, then on 2 when they are reported gone; afterwards the process has its count back."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(cores, "cpus", lambda: {0, 1})
    reports = iter([1.5, 1.5, 0.0])
    monkeypatch.setattr(cores, "others_between", lambda a, b, n: next(reports, 0.0))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        share, seen = CoreShare(every=0.0, first=0.0), Seen()
        trainer = pl.Trainer(max_steps=5, logger=False, enable_progress_bar=False, enable_model_summary=False,
                             enable_checkpointing=False, limit_val_batches=0, callbacks=[share, seen])
        trainer.fit(AutoEncoder(arch="mlp", widths=[16], latent_dim=4),
                    MNISTDataModule(batch_size=32, val_size=0, limit_train=256))
        assert seen.threads == [1, 1, 2, 2, 2], seen.threads
        assert [c[2] for c in share.changes] == [1, 2] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


class Fail(pl.Callback):
    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == 2:
            raise RuntimeError("a failing step")


def test_a_failed_run_gives_the_count_back_too(monkeypatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(cores, "cpus", lambda: {0, 1})
    monkeypatch.setattr(cores, "others_between", lambda a, b, n: 1.5)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen = Seen()
        trainer = pl.Trainer(max_steps=5, logger=False, enable_progress_bar=False, enable_model_summary=False,
                             enable_checkpointing=False, limit_val_batches=0,
                             callbacks=[CoreShare(every=0.0, first=0.0), seen, Fail()])
        with pytest.raises(RuntimeError, match="a failing step"):
            trainer.fit(AutoEncoder(arch="mlp", widths=[16], latent_dim=4),
                        MNISTDataModule(batch_size=32, val_size=0, limit_train=256))
        assert seen.threads == [1, 1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


SPIN = "import os, sys\nos.sched_setaffinity(0, {int(c) for c in sys.argv[1].split(',')})\nwhile True: pass"


@pytest.mark.skipif(not os.path.exists("/proc/stat") or len(os.sched_getaffinity(0)) < 2, reason="Linux, 2 cores")
def test_a_run_beside_busy_neighbours_drops_to_one_thread_and_takes_the_cores_back(tmp_path) -> None:
    """``regae fit`` on 2 cores started beside two spinning processes on the same cores: CoreShare
    goes to 1 thread; once the probe kills the neighbours it goes back to 2 within a look or two,
    and the run ends with the thread count it started with. Where other processes already held a
    core before the test, the cores cannot come back, so only the drop is checked there."""
    two = sorted(os.sched_getaffinity(0))[:2]
    already = others_cpu_use(0.5)
    quiet = already is None or already < 0.3
    pinned = ",".join(map(str, two))
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN, pinned]) for _ in range(2)]
    try:
        time.sleep(0.5)  # spinning
        tests_dir = str(Path(__file__).resolve().parents[1] / "support")  # neighbour_probe.py
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        env.update(NEIGHBOUR_PIDS=",".join(str(p.pid) for p in spinners), NEIGHBOUR_PROBE_OUT=str(tmp_path / "seen.json"),
                   NEIGHBOUR_PROBE_S="30" if quiet else "5", REGAE_TRUSTED_MODULES="neighbour_probe",
                   PYTHONPATH=os.pathsep.join([tests_dir, env.get("PYTHONPATH", "")]), PYTHONWARNINGS="ignore")
        code = (f"import os, sys, torch\nos.sched_setaffinity(0, {set(two)!r})\ntorch.set_num_threads(2)\n"
                "from regae.cli import main\nsys.exit(main(sys.argv[1:]))")
        proc = subprocess.run(
            [sys.executable, "-c", code, "fit", "--config", "sparse", "--model.widths", "[4, 8, 8]",
             "--trainer.max_steps", "100000", "--trainer.max_epochs", "-1", "--trainer.check_val_every_n_epoch", "1000",
             "--trainer.default_root_dir", str(tmp_path / "run"),
             "--data.limit_train", "256", "--data.limit_test", "32", "--data.batch_size", "32",
             "--trainer.enable_progress_bar", "false", "--trainer.logger", "false",
             "--trainer.callbacks+=neighbour_probe.NeighbourProbe"],
            env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["active"] and seen["start"] == 2
    (_, others_busy, down), *rest = seen["changes"]
    assert down == 1 and others_busy >= 0.6, seen  # the spinners took at least a core
    assert seen["killed_at_step"] is not None, seen
    if quiet:  # nothing else held the cores: once the spinners were gone they came back
        assert rest, seen
        _, others_idle, up = rest[-1]
        assert up == 2 and others_idle < 0.5 and seen["threads"] == 2, seen
    # the changes are stated once, on the line of the epoch they happened in, not one line each
    lines = [ln for ln in proc.stdout.splitlines() if "threads" in ln]
    assert lines and lines[0].startswith("epoch ") and "threads 2→1 from step" in lines[0], proc.stdout[-2000:]
    assert "other processes used up to" in lines[0] and "threads" not in proc.stderr, proc.stderr[-2000:]

"""regae.threads.policy: the OpenMP wait policy is set by the entry points, before torch loads, and a
user's own setting is left alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from regae.threads import policy as runtime
from regae.threads.cpu_use import _cpu_jiffies, others_cpu_use
from regae.threads.policy import BUSY, IDLE, USER_POLICY_VARS, configure_threads, machine_busy, thread_settings

POLICY_VARS = sorted({*USER_POLICY_VARS, *BUSY, *IDLE})
PROBE = (
    "import json, os, sys; from regae.__main__ import main; main(['presets']); "
    f"import torch; print(json.dumps({{k: os.environ.get(k) for k in {POLICY_VARS + ['OMP_NUM_THREADS']!r}}} "
    "| {'threads': torch.get_num_threads()}))"
)


def policy_seen(seen: dict) -> dict[str, str]:
    return {k: seen[k] for k in POLICY_VARS if seen.get(k) is not None}


def clean_env(**user: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (*POLICY_VARS, "OMP_NUM_THREADS")}
    return {**env, **user}


def test_refuses_once_torch_is_loaded() -> None:
    env: dict[str, str] = {}
    # torch is already imported in this test process: setting the policy now would do nothing
    assert "torch" in sys.modules and configure_threads(env) == {} and env == {}


@pytest.mark.parametrize("user", [{}, {"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "1000"},
                                  {"KMP_BLOCKTIME": "0"}, {"OMP_NUM_THREADS": "1"}])
def test_entry_point_sets_policy_before_torch_and_respects_user(user: dict[str, str]) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], env=clean_env(**user), capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    seen = json.loads(out)
    if any(k in user for k in USER_POLICY_VARS):
        assert policy_seen(seen) == {k: v for k, v in user.items() if k in POLICY_VARS}  # untouched, nothing added
    else:
        assert policy_seen(seen) in (BUSY, IDLE)  # one whole set, chosen by the machine's load at start
    assert seen["threads"] == int(user.get("OMP_NUM_THREADS", seen["threads"]))
    assert seen["OMP_NUM_THREADS"] == user.get("OMP_NUM_THREADS")  # regae never sets a thread count


def test_thread_settings_is_pure_and_defers_to_the_user() -> None:
    env: dict[str, str] = {}
    assert thread_settings(env, busy=True) == BUSY and thread_settings(env, busy=False) == IDLE and env == {}
    assert thread_settings(env) in (BUSY, IDLE)
    for var in USER_POLICY_VARS:
        assert thread_settings({var: "x"}, busy=True) == {} and thread_settings({var: "x"}, busy=False) == {}
    assert thread_settings({"OMP_NUM_THREADS": "3"}, busy=True) == BUSY  # a thread count is not a wait policy
    assert BUSY == {"OMP_WAIT_POLICY": "PASSIVE"} and not set(BUSY) & set(IDLE)


@pytest.mark.parametrize(("use", "others", "cores", "busy"), [
    (0.3, 0, 2, False), (0.9, 0, 2, False), (1.0, 0, 2, True), (0.2, 1, 2, True),  # a neighbour that just started
    (2.0, 12, 2, True), (3.0, 2, 8, False), (4.0, 0, 8, True), (0.0, 0, 1, False),
])
def test_busy_when_others_keep_half_the_cores_busy(use, others, cores, busy) -> None:
    assert machine_busy(use, others, cores) is busy


def test_the_lagging_load_average_is_read_only_when_nothing_else_can_be(monkeypatch) -> None:
    # a neighbour that stopped a minute ago: the load average still says 2.5, the cores are idle now
    assert machine_busy(0.1, 0, 2, load=2.5) is False
    monkeypatch.setattr(runtime, "others_cpu_use", lambda: None)  # no /proc/stat (not Linux)
    monkeypatch.setattr(runtime, "runnable_others", lambda: None)
    assert machine_busy(cores=2, load=2.5) is True and machine_busy(cores=2, load=0.3) is False
    monkeypatch.setattr(runtime.os, "getloadavg", lambda: (_ for _ in ()).throw(OSError()))
    assert machine_busy(cores=2) is True  # nothing can be read: sleep at once, the safe side


STAT = """cpu  400 0 200 9000 50 0 10 0 0 0
cpu0 100 0 50 4000 25 0 5 0 0 0
cpu1 300 0 150 5000 25 0 5 0 0 0
intr 12345 0 0
procs_running 3
"""


def test_cpu_ticks_count_busy_time_of_the_chosen_cores_only() -> None:
    assert _cpu_jiffies(STAT, None) == (610, 9660)  # busy: user + system + softirq; total adds idle + iowait
    assert _cpu_jiffies(STAT, {1}) == (455, 5480)  # the aggregate "cpu" line is never counted
    assert _cpu_jiffies(STAT, {7}) == (0, 0)


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="Linux only")
def test_a_busy_neighbour_is_seen_at_once() -> None:
    """A process spinning on this process's first core shows as about one core's worth of use
    within 0.1 s; no load average could see it that soon."""
    cpu = min(os.sched_getaffinity(0))
    spin = subprocess.Popen([sys.executable, "-c", f"import os\nos.sched_setaffinity(0, {{{cpu}}})\nwhile True: pass"])
    try:
        time.sleep(0.3)  # started and spinning
        alone = others_cpu_use()
        assert alone is not None and alone >= 0.8, alone
    finally:
        spin.kill()
        spin.wait()


DDP_FIT = ["fit", "--config", "sparse", "--model.widths", "[4, 8, 8]", "--trainer.accelerator", "cpu",
           "--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.max_steps", "1",
           "--trainer.enable_progress_bar", "false", "--trainer.logger", "false", "--trainer.num_sanity_val_steps", "0",
           "--data.limit_train", "64", "--data.limit_test", "32", "--data.batch_size", "32",
           "--trainer.callbacks+=thread_probe.ThreadProbe"]


@pytest.mark.slow
@pytest.mark.ddp
@pytest.mark.parametrize("user", [{}, {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "ACTIVE"}])
def test_ddp_processes_get_their_share_of_the_cores_or_the_user_s_settings(tmp_path, user) -> None:
    """``regae fit`` under CPU DDP with 2 processes: with nothing set each process runs
    cores // 2 threads (Lightning's ``_set_num_threads_if_needed``) with regae's wait policy;
    a user's OMP_NUM_THREADS and OMP_WAIT_POLICY reach both processes untouched."""
    tests_dir = str(Path(__file__).resolve().parents[1] / "support")  # thread_probe.py
    env = clean_env(**user)
    env.update(THREAD_PROBE_DIR=str(tmp_path), PYTHONWARNINGS="ignore", REGAE_TRUSTED_MODULES="thread_probe",
               PYTHONPATH=os.pathsep.join([tests_dir, env.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "regae", *DDP_FIT, "--trainer.default_root_dir", str(tmp_path / "run")],
                          env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    share = max(1, len(os.sched_getaffinity(0)) // 2)
    for seen in ranks:
        assert seen["world"] == 2
        assert seen["threads"] == int(user.get("OMP_NUM_THREADS", share))
        if "OMP_WAIT_POLICY" in user:
            assert policy_seen(seen) == {"OMP_WAIT_POLICY": user["OMP_WAIT_POLICY"]}
        else:  # rank 0's choice, inherited by the process Lightning starts for rank 1
            assert policy_seen(seen) in (BUSY, IDLE) and policy_seen(seen) == policy_seen(ranks[0])

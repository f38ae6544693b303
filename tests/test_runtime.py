"""regae.runtime: the OpenMP wait policy is set by the entry points, before torch loads, and a
user's own setting is left alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from regae.runtime import DEFAULTS, configure_threads, thread_settings

PROBE = (
    "import json, os, sys; from regae.__main__ import main; main(['presets']); "
    "import torch; print(json.dumps({k: os.environ.get(k) for k in ('OMP_WAIT_POLICY', 'GOMP_SPINCOUNT', "
    "'OMP_NUM_THREADS')} | {'threads': torch.get_num_threads()}))"
)


def test_sets_passive_when_user_set_nothing() -> None:
    env: dict[str, str] = {}
    # torch is already imported in this test process: the function must refuse...
    assert "torch" in sys.modules and configure_threads(env) == {} and env == {}


@pytest.mark.parametrize("user", [{}, {"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "1000"},
                                  {"OMP_NUM_THREADS": "1"}])
def test_entry_point_sets_policy_before_torch_and_respects_user(user: dict[str, str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**env, **user}, capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    seen = json.loads(out)
    if "OMP_WAIT_POLICY" in user or "GOMP_SPINCOUNT" in user:
        assert seen["OMP_WAIT_POLICY"] == user.get("OMP_WAIT_POLICY")  # untouched
    else:
        assert seen["OMP_WAIT_POLICY"] == DEFAULTS["OMP_WAIT_POLICY"]
    assert seen["threads"] == int(user.get("OMP_NUM_THREADS", seen["threads"]))


def test_thread_settings_is_pure_and_defers_to_the_user() -> None:
    env: dict[str, str] = {}
    assert thread_settings(env) == DEFAULTS and env == {}
    for var in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        assert thread_settings({var: "x"}) == {}
    assert thread_settings({"OMP_NUM_THREADS": "3"}) == DEFAULTS  # a thread count is not a wait policy


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
    tests_dir = os.path.dirname(__file__)
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")}
    env.update(user, THREAD_PROBE_DIR=str(tmp_path), PYTHONWARNINGS="ignore",
               PYTHONPATH=os.pathsep.join([tests_dir, env.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "regae", *DDP_FIT, "--trainer.default_root_dir", str(tmp_path / "run")],
                          env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    share = max(1, len(os.sched_getaffinity(0)) // 2)
    for seen in ranks:
        assert seen["world"] == 2
        assert seen["threads"] == int(user.get("OMP_NUM_THREADS", share))
        assert seen["OMP_WAIT_POLICY"] == user.get("OMP_WAIT_POLICY", DEFAULTS.get("OMP_WAIT_POLICY"))

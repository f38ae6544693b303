"""regae.runtime: the OpenMP wait policy is set by the entry points, before torch loads, and a
user's own setting is left alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from regae.runtime import DEFAULTS, configure_threads

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

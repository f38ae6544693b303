"""One session per thing CI does. `nox` alone runs the CI set (the README's test command).

Sessions share the environment nox itself runs from (the README's `.venv`, where torch is
already installed) instead of installing torch once per session.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "tests", "slow", "faults", "slurm", "browser"]

PY = sys.executable
PYTEST = [PY, "-m", "pytest", "-p", "no:cacheprovider"]
NO_TESTS = 5  # pytest's exit code when a marker selects nothing


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole repository."""
    session.run(PY, "-m", "ruff", "check", ".", external=True)


@nox.session
def tests(session: nox.Session) -> None:
    """Unit and small integration tests (the default run, a few minutes on 2 cores)."""
    session.run("sh", "regae/study/install-ood-data.sh", external=True)  # Fashion-MNIST (Debian package)
    session.run(*PYTEST, "-m", "not slow and not faults and not slurm and not browser and not gpu",
                *session.posargs, external=True)


@nox.session
def slow(session: nox.Session) -> None:
    """Longer end-to-end tests (compare/report/study on small budgets, multi-process DDP)."""
    session.run("sh", "regae/study/install-ood-data.sh", external=True)
    session.run(*PYTEST, "-m", "slow", *session.posargs, external=True, success_codes=[0, NO_TESTS])


@nox.session
def faults(session: nox.Session) -> None:
    """Kill/resume, corrupt inputs, numerical faults, config fuzzing — for real, no mocks."""
    session.run(*PYTEST, "-m", "faults", *session.posargs, external=True, success_codes=[0, NO_TESTS])


@nox.session
def slurm(session: nox.Session) -> None:
    """The launcher against a real 2-node Slurm on this machine: launch/testing/slurm-tests.sh
    starts it in a folder of its own, runs the `slurm` tests, stops it, removes the folder and
    fails if /etc/slurm, /usr/local/bin or /etc/hosts changed (root: installs slurm-wlm + munge)."""
    session.run("bash", "launch/testing/slurm-tests.sh", PY, *session.posargs, external=True)


@nox.session
def browser(session: nox.Session) -> None:
    """The Gradio demo driven by Playwright in Debian's Chromium, and 8 gradio_client users at once.

    Chromium is installed from Debian only if missing. Everything a run writes besides its
    screenshots (artifacts/browser/) goes under one folder, .nox/browser/tmp: pytest's
    --basetemp, Gradio's cache and uploads, TMPDIR (Playwright's and Chromium's profiles),
    Chromium's and matplotlib's config and cache homes (not ~/.config, ~/.cache). It is
    removed at the end, pass or fail.
    """
    work = Path(session.create_tmp()).resolve()  # .nox/browser/tmp; sets TMPDIR for the session
    env = {
        "TMPDIR": str(work),
        "GRADIO_TEMP_DIR": str(work / "gradio"),
        "XDG_CONFIG_HOME": str(work / "config"),
        "XDG_CACHE_HOME": str(work / "cache"),
        "MPLCONFIGDIR": str(work / "matplotlib"),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    try:
        session.run("bash", "demo/testing/install-chromium.sh", env=env, external=True)
        session.run(*PYTEST, "-m", "browser", f"--basetemp={work / 'pytest'}", *session.posargs, env=env,
                    external=True, success_codes=[0, NO_TESTS])
    finally:
        shutil.rmtree(work, ignore_errors=True)


@nox.session
def bench(session: nox.Session) -> None:
    """Speed/memory benchmarks: naive vs regae in one run, ratios with PASS/FAIL (not in CI).

    Then the demo under load: 32 gradio_client users x 20 runs against `python -m demo` (~5 min).
    """
    session.run(PY, "benchmarks/run.py", *session.posargs, external=True)
    session.run(PY, "benchmarks/bench_demo_load.py", external=True)

"""One session per thing CI does. `nox` alone runs the CI set (the README's test command).

Sessions share the environment nox itself runs from (the README's `.venv`, where torch is
already installed) instead of installing torch once per session.
"""

from __future__ import annotations

import sys

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
    """submitit launcher against a real single-node Slurm started (and stopped) here."""
    session.run("bash", "launch/testing/local-slurm.sh", "start", external=True)
    try:
        session.run(*PYTEST, "-m", "slurm", *session.posargs, external=True, success_codes=[0, NO_TESTS])
    finally:
        session.run("bash", "launch/testing/local-slurm.sh", "stop", external=True)


@nox.session
def browser(session: nox.Session) -> None:
    """The Gradio demo driven by Playwright in Debian's Chromium."""
    session.run("bash", "demo/testing/install-chromium.sh", external=True)
    session.run(*PYTEST, "-m", "browser", *session.posargs, external=True, success_codes=[0, NO_TESTS])


@nox.session
def bench(session: nox.Session) -> None:
    """Speed/memory benchmarks: naive vs regae in one run, ratios with PASS/FAIL (not in CI)."""
    import importlib.util

    if importlib.util.find_spec("pythae") is None:  # the peer library of bench_peers.py (extra `bench`)
        session.run(PY, "-m", "pip", "install", "-q", "-e", ".[bench]", external=True)
    session.run(PY, "benchmarks/run.py", *session.posargs, external=True)

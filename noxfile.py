"""One session per thing CI does. `nox` alone runs the CI set (the README's test command).

Sessions share the environment nox itself runs from (the README's `.venv`, where torch is
already installed) instead of installing torch once per session.

Every session is declared with `@ci_session`: it gets its own temporary folder
`.nox/<session>/tmp` (TMPDIR, TMP, TEMP and GRADIO_TEMP_DIR point into it; `run_pytest` puts
pytest's --basetemp there), which is removed when the session ends, pass or fail. The last
CI session, `leftovers`, compares /tmp, /etc and /usr/local/bin with what they held when nox
started and fails (under CI=true; elsewhere it reports) if a session left anything there.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "tests", "slow", "faults", "data", "slurm", "browser", "leftovers"]

PY = sys.executable
PYTEST = [PY, "-m", "pytest", "-p", "no:cacheprovider"]
NO_TESTS = 5  # pytest's exit code when a marker selects nothing
UNIT = "not slow and not faults and not data and not slurm and not browser and not gpu"


# -- helpers every session uses -----------------------------------------------------------
@contextlib.contextmanager
def scratch(session: nox.Session) -> Iterator[Path]:
    """A fresh `.nox/<session>/tmp` for everything the session's commands write as temporary
    files; removed at the end."""
    tmp = Path(session.create_tmp()).resolve()  # also sets TMPDIR
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    session.env.update({"TMP": str(tmp), "TEMP": str(tmp), "GRADIO_TEMP_DIR": str(tmp / "gradio")})
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ci_session(func: Callable[[nox.Session], None]) -> Callable[[nox.Session], None]:
    """`nox.session`, with the session's body run inside :func:`scratch`."""

    @functools.wraps(func)
    def run(session: nox.Session) -> None:
        with scratch(session):
            func(session)

    return nox.session(run)


def run_pytest(session: nox.Session, *args: str, allow_none: bool = False) -> None:
    """pytest with the session's posargs and its temporary folders under the session's TMPDIR."""
    basetemp = Path(session.env["TMPDIR"]) / "pytest"
    session.run(*PYTEST, f"--basetemp={basetemp}", *args, *session.posargs, external=True,
                success_codes=[0, NO_TESTS] if allow_none else [0])


# -- the CI set -----------------------------------------------------------------------------
@ci_session
def lint(session: nox.Session) -> None:
    """ruff over the whole repository, then the architecture: the import contracts in pyproject.toml
    (layers, the torch-free front door, who may import submitit and gradio, no cycles)."""
    session.run(PY, "-m", "ruff", "check", ".", external=True)
    session.run(str(Path(PY).with_name("lint-imports")), "--no-cache", external=True)


@ci_session
def tests(session: nox.Session) -> None:
    """Unit and small integration tests: no root, no network, no system data sets."""
    run_pytest(session, "-m", UNIT)


@ci_session
def slow(session: nox.Session) -> None:
    """Longer end-to-end tests (compare/report/study on small budgets, multi-process DDP)."""
    run_pytest(session, "-m", "slow", allow_none=True)


@ci_session
def faults(session: nox.Session) -> None:
    """Kill/resume, corrupt inputs, numerical faults, config fuzzing — for real, no mocks."""
    run_pytest(session, "-m", "faults", allow_none=True)


@ci_session
def data(session: nox.Session) -> None:
    """Tests on system data sets: Debian's Fashion-MNIST (installed here when root and online)."""
    if not fashion_installed():
        proc = subprocess.run(["sh", "regae/study/install-ood-data.sh"], capture_output=True, text=True)
        if proc.returncode != 0 or not fashion_installed():
            last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
            session.skip(f"Fashion-MNIST is not installed and could not be (apt-get install dataset-fashion-mnist "
                         f"needs root and network): {last}")
    run_pytest(session, "-m", "data", allow_none=True)


@ci_session
def slurm(session: nox.Session) -> None:
    """The launcher against a real 2-node Slurm on this machine: launch/testing/slurm-tests.sh
    starts it in a folder of its own, runs the `slurm` tests, stops it, removes the folder and
    fails if /etc/slurm, /usr/local/bin or /etc/hosts changed (root: installs slurm-wlm + munge)."""
    session.run("bash", "launch/testing/slurm-tests.sh", PY, *session.posargs, external=True)


@ci_session
def browser(session: nox.Session) -> None:
    """The Gradio demo driven by Playwright in Debian's Chromium, and 8 gradio_client users at once.

    Chromium is installed from Debian only if missing. Besides its screenshots (artifacts/browser/)
    everything a run writes goes under the session's TMPDIR: pytest's --basetemp, Gradio's cache
    and uploads, Playwright's and Chromium's profiles, Chromium's and matplotlib's config and
    cache homes (not ~/.config, ~/.cache).
    """
    work = Path(session.env["TMPDIR"])
    session.env.update({"XDG_CONFIG_HOME": str(work / "config"), "XDG_CACHE_HOME": str(work / "cache"),
                        "MPLCONFIGDIR": str(work / "matplotlib"), "GRADIO_ANALYTICS_ENABLED": "False"})
    session.run("bash", "demo/testing/install-chromium.sh", external=True)
    run_pytest(session, "-m", "browser", allow_none=True)


@nox.session
def leftovers(session: nox.Session) -> None:
    """What the sessions before this one left in /tmp, /etc and /usr/local/bin (fails under CI=true)."""
    report = compare_state(STATE_AT_START, machine_state(), dpkg_ran=dpkg_ran_since(STARTED_NS))
    for line in report.lines:
        session.log(line)
    if report.bad and os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        session.error(f"{len(report.bad)} leftover(s) in /tmp, /etc or /usr/local/bin (listed above)")


@ci_session
def bench(session: nox.Session) -> None:
    """Speed/memory benchmarks: naive vs regae in one run, ratios with PASS/FAIL (not in CI); regae vs pythae
    (the optional extra `bench`, installed here) and a step beside a busy neighbour.

    Then the demo under load: 32 gradio_client users x 20 runs against `python -m demo` (~5 min).
    """
    session.run(PY, "-m", "pip", "install", "-q", "-e", ".[bench]", external=True)
    session.run(PY, "benchmarks/run.py", *session.posargs, external=True)
    session.run(PY, "benchmarks/bench_demo_load.py", external=True)


# -- Fashion-MNIST and the machine-state check ------------------------------------------------
def fashion_installed() -> bool:
    folder = Path("/usr/share/datasets/fashion-mnist")  # regae.data.ood.FASHION_DIR
    return all((folder / f"{s}-{k}-idx{d}-ubyte.gz").is_file()
               for s in ("train", "t10k") for k, d in (("images", 3), ("labels", 1)))


WATCHED = ("/tmp", "/etc", "/usr/local/bin")


def machine_state(roots: tuple[str, ...] = WATCHED, by_content: tuple[str, ...] = ("/etc", "/usr/local/bin"),
                  skip: tuple[str, ...] = (str(Path(__file__).resolve().parent),)) -> dict[str, tuple[int, str]]:
    """path -> (size, fingerprint) of every file and folder under ``roots`` that can be read,
    except those under ``skip`` (this checkout: a clone in /tmp fills its own .nox, .venv, ...).

    Under ``by_content`` the fingerprint is a hash of the bytes (a file rewritten with the same
    content, e.g. a line added to /etc/hosts and removed again, is unchanged); elsewhere (/tmp,
    which may hold large files) it is the modification time.
    """
    state: dict[str, tuple[int, str]] = {}
    for root in roots:
        hashed = root in by_content
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skip]
            for name in dirs:
                state[os.path.join(folder, name)] = (0, "dir")
            for name in files:
                path = os.path.join(folder, name)
                with contextlib.suppress(OSError):
                    st = os.lstat(path)
                    if hashed and stat.S_ISREG(st.st_mode):
                        with open(path, "rb") as f:
                            state[path] = (st.st_size, hashlib.blake2b(f.read(), digest_size=8).hexdigest())
                    else:
                        state[path] = (st.st_size, str(st.st_mtime_ns))
    return state


class Leftovers:
    """The differences, as lines to print; ``bad`` are the ones a session must not leave."""

    def __init__(self) -> None:
        self.bad: list[str] = []
        self.info: list[str] = []

    @property
    def lines(self) -> list[str]:
        return [*self.bad, *self.info] or [f"{', '.join(WATCHED)}: as nox found them"]


def compare_state(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]],
                  dpkg_ran: bool = False) -> Leftovers:
    """New (topmost only), changed and removed paths. Under /etc, the changes of a run in which
    apt installed packages are listed as ``(apt)`` but are not failures; so are removals in /tmp."""
    report = Leftovers()
    new = set(after) - set(before)
    diffs = [("new", p) for p in new if os.path.dirname(p) not in new]
    diffs += [("changed", p) for p in set(after) & set(before) if after[p] != before[p]]
    diffs += [("removed", p) for p in set(before) - set(after)]
    for kind, path in sorted(diffs, key=lambda d: d[1]):
        if path.startswith("/etc/") and dpkg_ran:
            report.info.append(f"{kind}: {path} (apt)")
        elif path.startswith("/tmp/") and kind == "removed":
            report.info.append(f"{kind}: {path}")
        else:
            report.bad.append(f"{kind}: {path}")
    return report


def dpkg_ran_since(start_ns: int) -> bool:
    with contextlib.suppress(OSError):
        return os.stat("/var/log/dpkg.log").st_mtime_ns >= start_ns
    return False


STARTED_NS = time.time_ns()
STATE_AT_START = machine_state()

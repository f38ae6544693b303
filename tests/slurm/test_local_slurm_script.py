"""launch/testing/local-slurm.sh leaves the machine as it found it: after ``stop``, and after a
``start`` that was interrupted half-way (its trap undoes what it did).

A second, one-node cluster of its own (own folder, ports and node names) runs beside the
session's: its /etc/hosts line comes and goes while the session's stays.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.slurm import SCRIPT

pytestmark = pytest.mark.slurm

WATCHED = (Path("/etc/slurm"), Path("/usr/local/bin"), Path("/etc/hosts"))


def system_files() -> dict[str, tuple[int, int, int, str]]:
    """path -> (mode, uid, gid, sha256) for every file and folder under the watched paths."""
    out = {}
    for top in WATCHED:
        paths = [top, *sorted(top.rglob("*"))] if top.is_dir() else [top]
        for path in paths:
            st = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else ""
            out[str(path)] = (st.st_mode, st.st_uid, st.st_gid, digest)
    return out


def free_port_block(n: int) -> int:
    """A port p such that p..p+n are free now (the script checks again)."""
    for base in range(27000, 40000, 50):
        try:
            for p in range(base, base + n + 1):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
    raise AssertionError("no free ports")


def own_processes(folder: Path) -> list[int]:
    """Processes whose command line names ``folder`` (the daemons pass it as -f/--key-file ...)."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if str(folder) in proc.joinpath("cmdline").read_bytes().replace(b"\0", b" ").decode():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.fixture
def second_cluster(tmp_path: Path):
    # beside the session's cluster folder: pytest's own folders are private, munged's socket may not be
    folder = Path(os.environ["LOCAL_SLURM_DIR"]).parent / f"second-{tmp_path.name}"
    env = {**os.environ, "LOCAL_SLURM_DIR": str(folder), "LOCAL_SLURM_PORT": str(free_port_block(1)),
           "LOCAL_SLURM_NAME": "regae-t"}
    env.pop("SLURM_CONF", None)
    yield folder, env
    subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=120)


def test_start_then_stop_leaves_system_files_byte_identical(second_cluster) -> None:
    folder, env = second_cluster
    before = system_files()
    start = subprocess.run(["bash", str(SCRIPT), "start", "--nodes", "1"], env=env, capture_output=True, text=True,
                           timeout=180)
    assert start.returncode == 0, start.stdout + start.stderr
    assert f"export SLURM_CONF={folder}/slurm.conf" in start.stdout
    resolved = subprocess.run(["getent", "hosts", "regae-t1"], capture_output=True, text=True)
    assert resolved.stdout.split()[:2] == ["127.0.0.1", "regae-t1"]
    nodes = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %T"], env={**env, "SLURM_CONF": f"{folder}/slurm.conf"},
                           capture_output=True, text=True, timeout=30)
    assert nodes.stdout.split() == ["regae-t1", "idle"]
    daemons = own_processes(folder)
    assert len(daemons) >= 3  # munged, slurmctld, slurmd

    stop = subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, text=True, timeout=120)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert system_files() == before
    assert not folder.exists() and own_processes(folder) == []
    assert subprocess.run(["getent", "hosts", "regae-t1"], capture_output=True).returncode != 0


def test_interrupted_start_undoes_what_it_did(second_cluster) -> None:
    folder, env = second_cluster
    before = system_files()
    proc = subprocess.Popen(["bash", str(SCRIPT), "start", "--nodes", "1"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:  # the /etc/hosts line is in: interrupt now
        lines.append(line)
        if "/etc/hosts: added" in line:
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.communicate(timeout=120)[0]
    assert proc.returncode != 0, "".join(lines) + rest
    assert "failed or interrupted: undoing" in rest
    assert system_files() == before
    assert not folder.exists() and own_processes(folder) == []

"""What ``pip install 'regae[launch]'`` / ``'regae[demo]'`` gives: the applications ship with the
package, and work from an installed copy away from the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of the tracked files, built from a copy (a build writes build/ next to its sources)."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    tracked = subprocess.run(["git", "ls-files", "-z", "pyproject.toml", "README.md", "regae", "launch", "demo"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, tracked):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                           str(out), str(source)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (found,) = out.glob("regae-*.whl")
    return found


def test_the_wheel_holds_the_package_its_data_and_both_applications(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("regae/__init__.py", "regae/cli/dispatch.py", "regae/data/mnist/train-images-idx3-ubyte.gz",
                     "regae/configs/sparse.yaml", "launch/__main__.py", "launch/job.py", "demo/__main__.py",
                     "demo/app.py", "demo/checkpoints/sparse.ckpt", "demo/checkpoints/contractive.ckpt"):
        assert expected in names, expected
    assert not any(n.startswith(("tests/", "benchmarks/", "docs/")) for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Provides-Extra: launch" in text and "Provides-Extra: demo" in text


def test_the_installed_applications_run_away_from_the_checkout(wheel, tmp_path):
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                           str(wheel)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = {**os.environ, "PYTHONPATH": str(target)}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for module, says in (("launch", "--nodes"), ("demo", "--checkpoints"), ("regae", "compare")):
        proc = subprocess.run([sys.executable, "-m", module, "--help"], cwd=elsewhere, env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0 and says in proc.stdout, (module, proc.stderr[-2000:])
    where = subprocess.run([sys.executable, "-c", "import launch, demo, regae; print(launch.__file__, demo.__file__, "
                            "regae.__file__)"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert all(p.startswith(str(target)) for p in where.stdout.split()), where.stdout
    # the demo finds its shipped checkpoints inside the installed package
    check = ("from demo.__main__ import DEFAULT_CHECKPOINTS as d; import sys; "
             "sys.exit(0 if sorted(p.name for p in d.glob('*.ckpt')) == ['contractive.ckpt', 'sparse.ckpt'] else 1)")
    assert subprocess.run([sys.executable, "-c", check], cwd=elsewhere, env=env, timeout=120).returncode == 0

"""The house rules that import-linter cannot see: what the package root holds, names that shadow
modules, and one place for each job in the shipped code (regae/, launch/, demo/).

The layers themselves are import-linter contracts (pyproject.toml, ``nox -s lint``).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("regae", "launch", "demo")


def sources() -> dict[str, str]:
    """path (relative to the repository) -> text of every shipped Python file."""
    return {p.relative_to(ROOT).as_posix(): p.read_text() for pkg in SHIPPED for p in (ROOT / pkg).rglob("*.py")}


def where(pattern: str) -> set[str]:
    """The shipped files whose code (comments and docstrings left out) matches ``pattern``."""
    found = set()
    for path, text in sources().items():
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):  # docstrings may quote the code they replaced
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                lines[node.lineno - 1 : node.end_lineno] = [""] * (node.end_lineno - node.lineno + 1)
        code = "\n".join(line.split("#", 1)[0] for line in lines)
        if re.search(pattern, code):
            found.add(path)
    return found


def test_the_package_root_holds_only_its_public_face():
    assert sorted(p.name for p in (ROOT / "regae").glob("*.py")) == ["__init__.py", "__main__.py", "errors.py",
                                                                   "version.py"]


def packages() -> list[str]:
    names = list(SHIPPED)
    for pkg in SHIPPED:
        module = importlib.import_module(pkg)
        names += [m.name for m in pkgutil.walk_packages(module.__path__, f"{pkg}.") if m.ispkg]
    return names


@pytest.mark.parametrize("package", packages())
def test_no_public_name_of_a_package_is_also_one_of_its_modules(package):
    """``from regae.analysis import interpolate`` must give the function even after the module
    ``regae.analysis.interpolate`` was imported (the import system sets that attribute to the module)."""
    module = importlib.import_module(package)
    public = set(getattr(module, "__all__", [])) | {k for k, v in vars(module).items()
                                                    if not k.startswith("_") and callable(v)}
    submodules = {m.name for m in pkgutil.iter_modules(module.__path__)}
    assert not public & submodules, f"{package}: {sorted(public & submodules)} name both an object and a module"


def test_readme_api_names_stay_functions_after_their_modules_load():
    code = ("import regae.analysis.interpolation, regae.checkpoints.read, regae.model.inference\n"
            "from regae.analysis import interpolate\nimport regae\n"
            "assert all(callable(f) for f in (interpolate, regae.load, regae.encode, regae.psnr, regae.load_data))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(("job", "pattern", "owners"), [
    ("sets torch's thread count", r"set_num_threads\(", {"regae/threads/count.py"}),
    ("builds a Lightning Trainer", r"(?<![\w.])(pl\.|lightning\.pytorch\.)?Trainer\(", {"regae/training/trainer.py"}),
    ("computes PSNR from an MSE (torch; numpy for statistics)", r"10\s*\*\s*(torch|np|math|numpy)\.log10",
     {"regae/model/inference.py", "regae/reports/stats.py"}),
    ("writes a file by renaming a temporary one", r"os\.replace\(|\.rename\(|mkstemp\(", {"regae/checkpoints/write.py"}),
    ("pickles with torch.save", r"torch\.save\(", {"regae/checkpoints/write.py"}),
    ("saves a matplotlib figure", r"\.savefig\(", {"regae/checkpoints/write.py", "demo/latent_map.py"}),
    ("writes JSON", r"json\.dump\(", set()),
])
def test_each_job_has_one_place(job, pattern, owners):
    """demo/latent_map.py renders its map into memory for the page (no file)."""
    assert where(pattern) <= owners, f"only {sorted(owners)} {job}; also: {sorted(where(pattern) - owners)}"
    assert not owners or where(pattern), f"nobody {job} any more: update this test"


def test_every_entry_point_settles_threads_before_torch_loads():
    for main in ("regae/__main__.py", "launch/__main__.py", "demo/__main__.py"):
        text = (ROOT / main).read_text()
        assert "configure_threads()" in text, main
        body = text.split("configure_threads()", 1)[0]
        assert not re.search(r"^\s*(import torch|from torch)", body, re.M), f"{main} imports torch before the policy"

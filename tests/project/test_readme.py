"""README.md's code runs as a reader would paste it.

Every fenced block is one of ``python``, ``bash``, ``yaml`` or ``text`` (there are no indented code
blocks, so nothing escapes this file). In a scratch folder that holds the data the README's examples
name (``path/to/cells`` and the like, generated) and a link to the repository's ``docs/``:

* every ``python`` block runs in a fresh interpreter (default session);
* the ``yaml`` block is a valid model config: ``regae fit`` trains two steps with it;
* every ``bash`` command runs, in README order, each long one on a tiny budget (``slow`` session).
  A command that cannot run in CI is mapped to ``--help`` or skipped, each with its reason in
  :func:`plan`; a command this file does not know fails the test, so a new README command must be
  placed here.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import yaml

from tests.support.owndata import make_grey_npz, make_idx_folder, make_rgb_folder

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
LANGUAGES = {"python", "bash", "yaml", "text"}

#: appended to every `regae fit|test`: two steps on a few images, no logger, no bar
FIT_BUDGET = ["--trainer.max_steps", "2", "--trainer.max_epochs", "1", "--data.limit_train", "64",
              "--data.limit_test", "32", "--data.batch_size", "16", "--trainer.logger", "false",
              "--trainer.enable_progress_bar", "false", "--trainer.num_sanity_val_steps", "0"]
#: the analyses' sizes, smallest that still compute every section
ANALYSIS_BUDGET = ["--tsne-images", "50", "--pairs", "2", "--probe-train", "200", "--reg-images", "4"]
COMPARE_BUDGET = ["--max-steps", "2", *ANALYSIS_BUDGET, "--data.limit_train", "64", "--data.limit_test", "100",
                  "--data.batch_size", "16"]
#: appended to every `regae finetune`: one epoch of four steps (the test split stays whole: 10,000 MNIST images)
FINETUNE_BUDGET = ["--epochs", "1", "--train-images", "64", "--batch-size", "16", "--data.val_size", "32"]


class Block(NamedTuple):
    lang: str
    code: str
    line: int  # where the block starts in README.md (1-based)


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of a markdown text."""
    out, lang, start, body = [], None, 0, []
    for i, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            if lang is None:
                lang, start, body = line[3:].strip(), i, []
            else:
                out.append(Block(lang, "\n".join(body) + "\n", start))
                lang = None
        elif lang is not None:
            body.append(line)
    assert lang is None, f"README.md: the block opened at line {start} is never closed"
    return out


def commands(code: str) -> list[list[str]]:
    """The commands of a shell block: continuation lines joined, comments dropped, split as the shell would."""
    joined = re.sub(r"\\\n\s*", " ", code)
    return [args for line in joined.splitlines() if (args := shlex.split(line, comments=True))]


class Step(NamedTuple):
    argv: list[str] | None  # None: not run here
    why: str  # why it runs changed, or is skipped
    codes: tuple[int, ...] = (0,)  # accepted exit statuses


def plan(args: list[str]) -> Step:
    """How CI runs one README command (``args`` as the shell splits it)."""
    line = " ".join(args)
    py = [sys.executable, "-m"]
    if args[0] in ("python3", ".venv/bin/nox") or args[:2] == ["python3", "-m"]:
        return Step(None, "the two commands themselves: .ci/run is command 2, and this test runs inside it")
    if args[0] == ".venv/bin/pip":
        return Step(None, "installing: CI installs '.[dev]', which holds every extra")
    if args[0] in ("sudo", "eval") or "local-slurm.sh" in line:
        return Step(None, "the local Slurm cluster: nox -s slurm starts, uses and stops it with this script")
    if args[0] in ("python", ".venv/bin/python") and args[1:3] in (["-m", "launch"], ["-m", "demo"]):
        return Step([*py, args[2], "--help"], "needs Slurm or serves forever: nox -s slurm / nox -s browser run it")
    if args[0] != "regae":
        raise AssertionError(f"README command not placed in tests/project/test_readme.py:plan: {line}")
    command = args[1] if len(args) > 1 else ""
    if "gpu" in args:
        return Step([*py, "regae", command, "--help"], "asks for a GPU: CI has none")
    if command in ("fit", "validate", "test") and "--help" not in args:
        codes = (0,)
        if "fashion-mnist" in args and not Path("/usr/share/datasets/fashion-mnist").is_dir():
            codes = (2,)  # without Debian's package: the one-line error naming it (nox -s data installs it)
        return Step([*py, "regae", *args[1:], *FIT_BUDGET], "two steps on a few images", codes)
    if command == "compare":  # the README's compare lines are alternatives: each one retrains into runs/compare
        return Step([*py, "regae", *args[1:], *COMPARE_BUDGET, "--overwrite"], "two steps per AE, small analyses")
    if command == "report":
        return Step([*py, "regae", *args[1:], *ANALYSIS_BUDGET], "small analyses")
    if command == "finetune" and "--help" not in args:
        return Step([*py, "regae", *args[1:], *FINETUNE_BUDGET], "one epoch of four steps")
    if command == "check-rerun":
        return Step([*py, "regae", *args[1:]], "a two-step rerun lies outside the published intervals: exit 1",
                    (0, 1))
    if command == "reproduce" and not {"--list", "--quick"} & set(args):
        return Step([*py, "regae", *args[1:], "--quick", "--out", f"report/reproductions/{args[2]}",
                     "--cache", "runs/reproduce-cache-tiny"], "hours of training: the tiny budget instead")
    if command == "study" and "--list" not in args:
        return Step([*py, "regae", "study", "--help"], "hours of training; tests/study runs it at the tiny level")
    return Step([*py, "regae", *args[1:]], "as written")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder as a reader's would be: the data the README names, and the repository's docs/."""
    work = tmp_path_factory.mktemp("readme")
    (work / "docs").symlink_to(ROOT / "docs")
    make_rgb_folder(work / "path/to/cells", per_class=12, size=40)
    make_idx_folder(work / "path/to/kmnist")
    make_grey_npz(work / "patches.npz", n=60)
    np.save(work / "patches.npy", np.load(work / "patches.npz")["images"])
    return work


def run(argv: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_every_block_is_fenced_with_a_language_this_file_runs_or_reads():
    text = README.read_text()
    found = blocks(text)
    assert {b.lang for b in found} <= LANGUAGES, [(b.line, b.lang) for b in found if b.lang not in LANGUAGES]
    outside, fence = [], False
    for i, line in enumerate(text.splitlines(), 1):
        fence ^= line.startswith("```")
        if not fence and line.startswith("    ") and not line.lstrip().startswith(("-", "|")):
            prev = text.splitlines()[i - 2] if i > 1 else ""
            if not prev.strip():  # an indented code block starts after a blank line
                outside.append(i)
    assert not outside, f"indented code blocks (fence them) at README.md lines {outside}"
    assert sum(b.lang == "python" for b in found) >= 2 and sum(b.lang == "bash" for b in found) >= 8


def test_every_command_has_a_place_in_the_plan():
    for block in blocks(README.read_text()):
        if block.lang == "bash":
            for args in commands(block.code):
                plan(args)  # raises for a command nobody placed


def test_the_python_blocks_run(workdir):
    """The README's Python, pasted into a fresh interpreter in a folder with a trained own-data model."""
    from tests.support.helpers import run_cli

    code, _, err = run_cli("fit", "--config", "sparse", "--data.dataset", f"folder:{workdir / 'path/to/cells'}",
                           "--data.image_size", "64", "--trainer.default_root_dir", str(workdir / "runs/cells"),
                           *FIT_BUDGET)
    assert code == 0, err
    python = [b for b in blocks(README.read_text()) if b.lang == "python"]
    for block in python:
        proc = run([sys.executable, "-c", block.code], workdir, timeout=300)
        assert proc.returncode == 0, f"README.md line {block.line}:\n{block.code}\n{proc.stderr[-3000:]}"


def test_the_yaml_block_is_a_config_regae_fit_trains(workdir, tmp_path):
    (block,) = [b for b in blocks(README.read_text()) if b.lang == "yaml"]
    config = yaml.safe_load(block.code)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"model": {"arch": "mlp", "widths": [16], "latent_dim": 4, **config["model"]}}))
    proc = run([sys.executable, "-m", "regae", "fit", "--config", str(path), *FIT_BUDGET,
                "--trainer.default_root_dir", str(tmp_path / "run")], workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_the_shell_commands_run(workdir):
    """Every command of every bash block, in README order, in one folder (later ones use earlier ones' runs)."""
    ran, skipped = 0, []
    for block in blocks(README.read_text()):
        if block.lang != "bash":
            continue
        cwd = workdir
        if "--data.dataset" in block.code:  # "your own data": its runs must not replace the MNIST ones reported on below
            cwd = workdir / f"block-{block.line}"
            cwd.mkdir()
            for name in ("path", "patches.npz", "patches.npy", "docs"):
                (cwd / name).symlink_to(workdir / name)
        for args in commands(block.code):
            step = plan(args)
            if step.argv is None:
                skipped.append((" ".join(args), step.why))
                continue
            proc = run(step.argv, cwd)
            assert proc.returncode in step.codes, (
                f"README.md line {block.line}: {' '.join(args)}\nran as: {' '.join(step.argv[2:])} ({step.why})\n"
                f"exit {proc.returncode}\n{proc.stdout[-1500:]}\n{proc.stderr[-3000:]}")
            if proc.returncode == 2:  # an expected refusal is one line
                assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
            ran += 1
    assert ran >= 25, (ran, skipped)

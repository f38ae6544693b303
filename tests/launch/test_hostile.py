"""python -m launch against user mistakes and hostile values: one ``launch: error:`` line, exit 2,
nothing written outside (or half into) the launch folder, and no value can become a shell line of
the Slurm batch script. No Slurm needed: the script is rendered by submitit without submitting."""

from __future__ import annotations

import errno
import json
import os
import shlex
from pathlib import Path

import pytest
import submitit

import launch.submit as submit_module
from launch.__main__ import main
from launch.options import LaunchOptions, parse_options
from launch.records import MAX_LAUNCH_BYTES
from launch.submit import default_name, job_setup, make_executor
from regae.checkpoints.write import atomic_write_text
from regae.errors import ConfigError

pytestmark = pytest.mark.faults  # the hostile-input sweep runs in `nox -s faults`

RULE = ("one folder name of ASCII letters, digits, '.', '_', '-', not starting with '.' or '-', "
        "at most 128 characters")
CONTROL = "must not contain control characters (newline, tab, ...): they would end a line of the Slurm batch script"


def tree(folder: Path) -> list[str]:
    """Every path under ``folder`` (relative), to show that nothing was written."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    return err[0]


# 1. shell-safe batch script --------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "message"), [
    (["--name", "x\nrm -rf ~"], f"--name must be {RULE}, got 'x\\nrm -rf ~'"),
    (["--sbatch", "constraint=a100\ntouch pwned"], f"--sbatch {CONTROL}, got 'constraint=a100\\ntouch pwned'"),
    (["--sbatch", "x\ntouch pwned=1"], f"--sbatch {CONTROL}, got 'x\\ntouch pwned=1'"),
    (["--sbatch", "comment=a\rb"], f"--sbatch {CONTROL}, got 'comment=a\\rb'"),
    (["--sbatch", "x;touch pwned=1"],
     "--sbatch KEY must be a Slurm long option (letters, digits, '-', '_'), got 'x;touch pwned'"),
    (["--partition", "gpu\x1b[2J"], f"--partition {CONTROL}, got 'gpu\\x1b[2J'"),
    (["--account", "a\x7f"], f"--account {CONTROL}, got 'a\\x7f'"),
    (["--dir", "d\nx"], f"--dir {CONTROL}, got 'd\\nx'"),
])
def test_control_characters_are_refused_when_parsed(tmp_path: Path, monkeypatch, capsys, argv: list[str],
                                                    message: str) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--cluster", "debug", *argv]) == 2
    assert one_error_line(capsys) == f"launch: error: {message}"
    assert tree(tmp_path) == []


def render(executor: submitit.AutoExecutor, array: int | None = None) -> str:
    """The sbatch file submitit would hand to ``sbatch`` (as map_array does for an array)."""
    slurm = executor._executor
    if array:
        slurm.parameters["map_count"] = array
    return slurm._make_submission_file_text(slurm._submitit_command_str, "uid")


@pytest.mark.parametrize("array", [None, 3])
def test_the_batch_script_has_no_line_a_value_could_inject(tmp_path: Path, monkeypatch, array: int | None) -> None:
    """Quotes, ``$()``, backticks, ``;`` in every value that reaches the script: each ``#SBATCH`` line
    reads back (shell-split) as exactly one option with the value given, and the shell lines are
    only the launcher's own setup and submitit's command."""
    monkeypatch.setattr(submitit.SlurmExecutor, "affinity", classmethod(lambda cls: 2))  # no srun here
    hostile = "a'; touch pwned; echo '$(touch pwned) `touch pwned` \"q\" \\ #"
    root = tmp_path / "d i'r $(touch pwned)"
    opts = parse_options(["--cluster", "slurm", "--name", "a.b_c-d", "--partition", hostile, "--account", hostile,
                          "--qos", hostile, "--mem", hostile, "--sbatch", f"comment={hostile}",
                          "--sbatch", "no-requeue=", "--dir", str(root)])
    text = render(make_executor(opts, root / "submitit", "a.b_c-d", array or 1), array)
    sbatch = {}
    shell = []
    for line in text.splitlines():
        if line.startswith("#SBATCH "):
            (arg,) = shlex.split(line[len("#SBATCH "):])
            key, _, value = arg.partition("=")
            sbatch[key] = value
        elif line and not line.startswith("#"):
            shell.append(line)
    for key in ("--partition", "--account", "--qos", "--mem", "--comment"):
        assert sbatch[key] == hostile, key
    assert sbatch["--job-name"] == "a.b_c-d" and sbatch["--no-requeue"] == ""
    assert sbatch["--output"].startswith(str(root / "submitit"))
    assert ("--array" in sbatch) == bool(array)
    assert shell[:-2] == job_setup(opts) and shell[-2] == "export SUBMITIT_EXECUTOR=slurm"
    srun = shlex.split(shell[-1])
    assert srun[0] == "srun" and srun[-1] == str(root / "submitit")
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


@pytest.mark.parametrize(("opts", "name", "folder", "message"), [
    (LaunchOptions(sbatch={"constraint": "a\ntouch pwned"}), "ok", "f",
     f"--sbatch {CONTROL}, got 'constraint=a\\ntouch pwned'"),
    (LaunchOptions(sbatch={"x\ntouch pwned": True}), "ok", "f", f"--sbatch {CONTROL}, got 'x\\ntouch pwned'"),
    (LaunchOptions(partition="p\nq"), "ok", "f", f"slurm_partition {CONTROL}, got 'p\\nq'"),
    (LaunchOptions(), "x\ntouch pwned", "f", f"--name must be {RULE}, got 'x\\ntouch pwned'"),
    (LaunchOptions(), "ok", "f\ntouch pwned", f"submitit folder {CONTROL}"),
])
def test_make_executor_is_the_last_guard(tmp_path: Path, monkeypatch, opts: LaunchOptions, name: str,
                                         folder: str, message: str) -> None:
    """Options that never went through the parser (an API caller) still cannot reach the script."""
    monkeypatch.setattr(submitit.SlurmExecutor, "affinity", classmethod(lambda cls: 2))
    with pytest.raises(ConfigError) as info:
        make_executor(opts, tmp_path / folder, name, 1)
    assert message in str(info.value)
    assert tree(tmp_path) == []


def write_launch(root: Path, **changes) -> Path:
    """A launch folder as python -m launch --cluster debug leaves it (two runs), with ``changes``."""
    runs = [{"name": n, "dir": str(root / "runs" / n), "job_id": f"DEBUG_{n}", "point": {}, "jobs": [f"DEBUG_{n}"]}
            for n in ("00", "01")]
    options = {"cluster": "debug", "dir": str(root), "name": "ok", "sbatch": {}, "nodes": 1, "fit_argv": []}
    record = {"created": "2024-01-01 00:00:00", "cluster": "debug", "name": "ok",
              "submitit_folder": str(root / "submitit"), "options": options, "runs": runs}
    for key, value in changes.items():
        if key.startswith("options."):
            options[key.split(".", 1)[1]] = value
        else:
            record[key] = value
    for run in runs:
        Path(run["dir"]).mkdir(parents=True, exist_ok=True)
    path = root / "launch.json"
    path.write_text(json.dumps(record))
    return path


@pytest.mark.parametrize(("changes", "message"), [
    ({"options.sbatch": {"constraint": "a\ntouch pwned"}},
     f"--sbatch constraint {CONTROL}, got 'a\\ntouch pwned'"),
    ({"options.sbatch": {"x y": True}}, "--sbatch KEY must be a Slurm long option (letters, digits, '-', '_'), "
                                        "got 'x y'"),
    ({"options.name": "x\ntouch pwned"}, f"--name must be {RULE}, got 'x\\ntouch pwned'"),
    ({"options.partition": "p\nq"}, f"--partition {CONTROL}, got 'p\\nq'"),
    ({"name": "x\ntouch pwned"}, f"'name' must be {RULE}, got 'x\\ntouch pwned'"),
    ({"name": "../../escaped"}, f"'name' must be {RULE}, got '../../escaped'"),
])
def test_resume_refuses_hostile_values_read_back(tmp_path: Path, capsys, changes: dict, message: str) -> None:
    root = tmp_path / "launch"
    path = write_launch(root, **changes)
    before = (tree(tmp_path), path.read_bytes())
    assert main(["resume", str(root)]) == 2
    assert one_error_line(capsys) == f"launch: error: {path}: {message}"
    assert (tree(tmp_path), path.read_bytes()) == before


# 2. --name is one folder name ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["../../escaped", "a/b", "a\\b", ".", "..", "-rf", ".hidden", "", "a b", "x" * 129])
def test_name_must_be_one_safe_folder_name(tmp_path: Path, monkeypatch, capsys, name: str) -> None:
    cwd = tmp_path / "a" / "b" / "c"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    assert main(["--cluster", "debug", f"--name={name}"]) == 2
    assert one_error_line(capsys) == f"launch: error: --name must be {RULE}, got {name!r}"
    assert tree(tmp_path) == ["a", "a/b", "a/b/c"]


def test_default_name_from_a_config_file_is_made_folder_safe() -> None:
    assert default_name(["--config", "presets/my cfg;x.yaml"]) == "my_cfg_x"
    assert default_name(["--config=../.hidden.yaml"]) == "hidden"
    assert default_name(["--config", "contractive"]) == "contractive"


# 3. --dir that cannot be a launch folder ---------------------------------------------------------

def test_dir_that_cannot_be_made_is_one_line_and_nothing_is_created(tmp_path: Path, capsys) -> None:
    file = tmp_path / "file"
    file.write_text("keep")
    cases = [
        (file, f"cannot use launch folder {file}: it exists and is not a folder"),
        (file / "sub", f"cannot create launch folder {file / 'sub'}: {file} is not a folder"),
        (tmp_path / ("x" * 300), f"cannot use launch folder {tmp_path / ('x' * 300)}: File name too long"),
    ]
    for folder, message in cases:
        assert main(["--cluster", "debug", "--dir", str(folder)]) == 2
        assert one_error_line(capsys) == f"launch: error: {message}"
    assert tree(tmp_path) == ["file"] and file.read_text() == "keep"


def test_unwritable_dir_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root writes anywhere: give it the answer a user gets
        monkeypatch.setattr(submit_module.os, "access", lambda path, mode: Path(path) != locked)
    try:
        assert main(["--cluster", "debug", "--dir", str(locked / "x")]) == 2
        assert one_error_line(capsys) == f"launch: error: cannot write launch folder {locked / 'x'}: {locked} is not writable"
        assert tree(locked) == []
    finally:
        locked.chmod(0o700)


def test_a_write_that_fails_half_way_leaves_no_half_launch(tmp_path: Path, monkeypatch, capsys) -> None:
    """The disk fills after the first run's config: the launch folder this call created goes again."""
    monkeypatch.setattr(submit_module, "resolve", lambda argv: {"trainer": {}, "model": {"lr": 1.0}})
    monkeypatch.setattr(submit_module, "validate", lambda config: None)
    written = []

    def write_config(config, path):
        if written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(path)
        atomic_write_text("x: 1\n", path)

    monkeypatch.setattr(submit_module, "write_config", write_config)
    root = tmp_path / "new" / "launch"
    assert main(["--cluster", "debug", "--dir", str(root), "--sweep", "model.lr=1,2"]) == 2
    assert one_error_line(capsys) == f"launch: error: cannot write launch folder {root}: No space left on device"
    assert written and tree(tmp_path) == []


# 4. launch.json / status.json that are not what the launcher writes ------------------------------

MALFORMED = [
    (b"not json{", "not JSON (Expecting value: line 1 column 1 (char 0))"),
    (b"[1, 2]", "expected a JSON object (a launch record), got an array"),
    (b'{"cluster": "debug"}', "no 'name' entry, not a launch record"),
    (b'{"cluster": "debug", "name": "x", "submitit_folder": "/s", "options": {}, "runs": "nope"}',
     "'runs' must be an array, got a string 'nope'"),
    (b'{"cluster": "debug", "name": "x", "submitit_folder": "/s", "options": {}, "runs": [{"name": 3}]}',
     "runs[0] has no 'dir' entry"),
    (b"[" * 100_000, "not JSON the launcher writes (nested too deeply)"),
    (b'{"a": "\xff"}', "not JSON ('utf-8' codec can't decode byte 0xff in position 7: invalid start byte)"),
    (None, f"{MAX_LAUNCH_BYTES + 1} bytes, more than the launcher writes (at most {MAX_LAUNCH_BYTES})"),
]


@pytest.mark.parametrize("command", ["status", "resume"])
@pytest.mark.parametrize(("content", "message"), MALFORMED)
def test_malformed_launch_json_is_one_line(tmp_path: Path, capsys, command: str, content: bytes | None,
                                           message: str) -> None:
    path = tmp_path / "launch.json"
    if content is None:  # huge (sparse: no disk used)
        with open(path, "wb") as f:
            f.truncate(MAX_LAUNCH_BYTES + 1)
    else:
        path.write_bytes(content)
    before = tree(tmp_path)
    assert main([command, str(tmp_path)]) == 2
    assert one_error_line(capsys) == f"launch: error: {path}: {message}"
    assert tree(tmp_path) == before  # no status.txt, no submitit folder


def test_resume_refuses_wrong_types_and_runs_outside_the_folder(tmp_path: Path, capsys) -> None:
    root = tmp_path / "launch"
    for changes, message in (
        ({"options.nodes": "2"}, "options.nodes must be an integer, got a string '2'"),
        ({"options.fit_argv": "--model.lr 1"}, "options.fit_argv must be an array of strings, got '--model.lr 1'"),
        ({"runs": [{"name": "00", "dir": str(tmp_path / "elsewhere"), "job_id": "1", "point": {}}]},
         f"runs[0].dir {str(tmp_path / 'elsewhere')!r} is not a folder in {root / 'runs'} "
         "(a launch folder that was moved cannot be resumed)"),
    ):
        path = write_launch(root, **changes)
        before = path.read_bytes()
        assert main(["resume", str(root)]) == 2
        assert one_error_line(capsys) == f"launch: error: {path}: {message}"
        assert path.read_bytes() == before and not (root / "submitit").exists()
    assert not (tmp_path / "elsewhere").exists()


def test_a_malformed_status_json_marks_its_run_and_spares_the_others(tmp_path: Path, capsys) -> None:
    root = tmp_path / "launch"
    write_launch(root)
    good, bad = root / "runs" / "00" / "status.json", root / "runs" / "01" / "status.json"
    good.write_text(json.dumps({"state": "completed", "global_step": 5, "metrics": {"val/psnr": 12.5}}))
    (root / "runs" / "01" / "attempts.jsonl").write_text('{"job_id": "1"}\n{"job_id": "2", "st')  # cut by a kill
    for content, what in ((b"[1, 2]", "expected a JSON object (a run status), got an array"),
                          (b'{"global_step": "5"}', "'global_step' must be an integer >= 0, got a string '5'"),
                          (b'{"metrics": {"val/psnr": [1]}}', "metric 'val/psnr' must be a number, got an array [1]"),
                          (b"{", "not JSON (Expecting property name enclosed in double quotes: line 1 column 2 "
                                 "(char 1))")):
        bad.write_bytes(content)
        assert main(["status", str(root)]) == 2
        out = capsys.readouterr()
        assert out.err.splitlines() == [f"launch: error: {bad}: {what}"]
        table = [line.split() for line in out.out.splitlines()]
        assert table[0][:5] == ["run", "job", "state", "run_state", "step"]
        assert table[1][:7] == ["00", "DEBUG_00", "-", "completed", "5", "-", "0"]
        assert table[2][:7] == ["01", "DEBUG_01", "-", "unreadable", "-", "-", "1"]
        assert (root / "status.txt").read_text() == out.out

        before = (tree(tmp_path), (root / "launch.json").read_bytes())
        assert main(["resume", str(root)]) == 2  # resume would have to guess whether 01 finished
        assert one_error_line(capsys) == f"launch: error: {bad}: {what}"
        assert (tree(tmp_path), (root / "launch.json").read_bytes()) == before

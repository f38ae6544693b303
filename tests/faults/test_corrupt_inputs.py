"""Corrupt, foreign and malicious inputs: one ``regae: error:`` line, exit code 2, nothing overwritten."""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

import regae as rg
from regae.cli import main
from regae.data.mnist import FILES, MNIST_DIR
from tests.support.faults import TINY, error_lines, regae

pytestmark = [pytest.mark.faults, pytest.mark.filterwarnings("ignore::UserWarning")]


class RunsCode:
    """Unpickling this calls os.system: a checkpoint must never be loaded with full pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    """A finished tiny run: <root>/checkpoints/last.ckpt."""
    root = tmp_path_factory.mktemp("good")
    assert main(["fit", *TINY, "--trainer.max_steps", "2", "--trainer.default_root_dir", str(root)]) == 0
    return root


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def bad_checkpoints(folder: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, part of the expected message)."""
    raw = good.read_bytes()
    files = {
        "truncated": (raw[: len(raw) // 2], "corrupt or truncated"),
        "truncated_tail": (raw[:-100], "corrupt or truncated"),
        "empty": (b"", "corrupt or truncated"),
        "random_bytes": (torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0),
                                       dtype=torch.uint8).numpy().tobytes(), "corrupt or not a torch file"),
        "text": (b"model: unet\n", "corrupt or not a torch file"),
        "raw_pickle_with_code": (pickle.dumps(RunsCode(folder / "PWNED")), "corrupt or not a torch file"),
    }
    out = {}
    for name, (data, message) in files.items():
        (folder / f"{name}.ckpt").write_bytes(data)
        out[name] = (folder / f"{name}.ckpt", message)
    torch.save({"state_dict": {"w": torch.ones(2)}}, folder / "foreign.ckpt")
    out["foreign_torch_file"] = (folder / "foreign.ckpt", "not a regae checkpoint")
    torch.save({"state_dict": {}, "regae": RunsCode(folder / "PWNED")}, folder / "code.ckpt")
    out["torch_file_with_code"] = (folder / "code.ckpt", "refusing to load")
    hp = torch.load(good, weights_only=True)
    hp["hyper_parameters"]["widths"] = "not a list"
    torch.save(hp, folder / "bad_hparams.ckpt")
    out["bad_hyperparameters"] = (folder / "bad_hparams.ckpt", "unusable hyperparameters")
    out["missing"] = (folder / "does-not-exist.ckpt", "checkpoint not found")
    return out


def test_bad_checkpoints_give_one_line_and_change_nothing(good_run, tmp_path, capsys):
    cases = bad_checkpoints(tmp_path, good_run / "checkpoints/last.ckpt")
    before = snapshot(tmp_path), snapshot(good_run)
    tried = 0
    for name, (path, message) in cases.items():
        for command in (["test", *TINY], ["fit", *TINY, "--trainer.max_steps", "4"]):
            code = main([*command, "--ckpt_path", str(path), "--trainer.default_root_dir", str(good_run)])
            err = capsys.readouterr().err
            lines = error_lines(err)
            assert code == 2, (name, command[0], err[-1500:])
            assert len(lines) == 1 and message in lines[0] and "Traceback" not in err, (name, err[-1500:])
            tried += 1
        with pytest.raises(rg.CheckpointError, match=message):
            rg.load(path)
        tried += 1
    assert not (tmp_path / "PWNED").exists()  # no code ran
    assert (snapshot(tmp_path), snapshot(good_run)) == before  # nothing written, nothing overwritten
    assert tried == 3 * len(cases) == 30


def test_console_script_exit_code_and_single_line(good_run, tmp_path):
    """The installed ``regae`` script, as a user runs it, on a checkpoint that carries code."""
    torch.save({"state_dict": {}, "regae": RunsCode(tmp_path / "PWNED")}, tmp_path / "code.ckpt")
    done = regae("test", *TINY, "--ckpt_path", str(tmp_path / "code.ckpt"), "--trainer.default_root_dir", str(tmp_path))
    assert done.returncode == 2
    assert error_lines(done.stderr) == [
        f"regae: error: refusing to load {tmp_path / 'code.ckpt'}: it is not plain weights "
        "(Trying to load unsupported GLOBAL posix.system whose module posix is blocked.)"
    ]
    assert "Traceback" not in done.stderr and not (tmp_path / "PWNED").exists()


def test_checkpoint_of_another_architecture_is_a_clear_error(good_run):
    model = rg.AutoEncoder(arch="mlp", widths=[32])
    ckpt = torch.load(good_run / "checkpoints/last.ckpt", weights_only=True)  # widths [64]
    with pytest.raises(rg.CheckpointError, match=r"do not fit this model .* trained with arch=mlp, .*widths=\[64\]"):
        model.on_load_checkpoint(ckpt)


def mnist_copy(folder: Path) -> Path:
    folder.mkdir()
    for split in FILES.values():
        for name, _ in split:
            shutil.copy(MNIST_DIR / name, folder / name)
    return folder


def damage(kind: str, path: Path) -> None:
    raw = bytearray(path.read_bytes())
    if kind == "truncated":
        path.write_bytes(raw[: len(raw) // 3])
    elif kind == "one_byte_flipped":
        raw[len(raw) // 2] ^= 0x01
        path.write_bytes(raw)
    elif kind == "recompressed_other_content":  # a valid gzip of different (shorter) data
        path.write_bytes(gzip.compress(gzip.decompress(bytes(raw))[:-784], compresslevel=1, mtime=0))
    elif kind == "missing":
        path.unlink()


@pytest.mark.parametrize("kind", ["truncated", "one_byte_flipped", "recompressed_other_content", "missing"])
@pytest.mark.parametrize("which", ["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
def test_damaged_mnist_file_is_named_in_one_line(kind, which, tmp_path, capsys):
    root = mnist_copy(tmp_path / "mnist")
    damage(kind, root / which)
    run = tmp_path / "run"
    code = main(["fit", *TINY, "--trainer.max_steps", "1", "--data.root", str(root),
                 "--trainer.default_root_dir", str(run)])
    err = capsys.readouterr().err
    lines = error_lines(err)
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err[-1500:]
    expected = "missing" if kind == "missing" else "corrupt"
    assert f"MNIST file {expected}: {root / which}" in lines[0]
    assert not (run / "checkpoints").exists()  # no training happened, nothing saved
    with pytest.raises(rg.DataError, match=which):
        rg.load_split("train" if which.startswith("train") else "test", str(root))


def test_report_refuses_bad_checkpoints_without_touching_its_output(good_run, tmp_path, capsys):
    cases = bad_checkpoints(tmp_path, good_run / "checkpoints/last.ckpt")
    out = tmp_path / "report"
    out.mkdir()
    (out / "index.md").write_text("an earlier report\n")
    for name, (path, message) in cases.items():
        code = main(["report", "--ckpt", f"good={good_run / 'checkpoints/last.ckpt'}", "--ckpt", str(path),
                     "--out", str(out)])
        err = capsys.readouterr().err
        lines = error_lines(err)
        assert code == 2 and len(lines) == 1 and message in lines[0] and "Traceback" not in err, (name, err[-1500:])
    assert [p.name for p in out.iterdir()] == ["index.md"] and (out / "index.md").read_text() == "an earlier report\n"
    assert not (tmp_path / "PWNED").exists()

"""Hostile or mistaken data files: one ``regae: error:`` line, exit code 2, nothing written, bounded memory.

Each case runs ``regae fit`` on it (in-process, :func:`tests.support.helpers.run_cli`). The cases
whose old failure was memory (a label of 2**62 that made a class name per integer, an npz
member that inflates to a GiB, a 30000x30000 PNG with PIL's guard off) run in one child process
under an address-space ceiling (``RLIMIT_AS``): its baseline (torch, Lightning and the CLI
already imported and exercised once) plus ``HEADROOM``. A correct load of the small valid
datasets fits under it (checked in the same child), a regression hits ``MemoryError`` there
instead of taking the machine's memory, and the child checks that the ceiling is enforced.
The last tests fuzz ``.npz`` archives: ``load_dataset`` succeeds or raises DataError/ConfigError.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import resource
import shutil
import stat
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from regae.data import load_dataset
from regae.data.dataset import MAX_CLASSES
from regae.data.folder import MAX_IMAGE_PIXELS
from regae.errors import ConfigError, DataError
from tests.support.helpers import TINY, run_cli
from tests.support.owndata import make_rgb_folder

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
#: address space the child may add to its baseline: far above what loading the valid datasets
#: needs (a few MiB), far below what each regression allocates (>= 0.9 GiB)
HEADROOM = 384 * 2**20
#: what the child's address space may have grown by when a case has been refused (measured: < 4 MiB)
SPENT_MIB = 128
PIL_DEFAULT_PIXELS = 89_478_485
#: the same guard for the in-process tests (the CLI's first call imports more): 1 GiB over what the process has
IN_PROCESS_HEADROOM = 2**30


# ---------------------------------------------------------------- file makers


def npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape})
    return buf.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def write_zip(path: Path, members: dict[str, bytes | tuple[bytes, int]]) -> Path:
    """An .npz by hand: member name -> its bytes, or (bytes, count of zero bytes streamed after them).

    The zeros are deflated as they are written, so a GiB-sized member costs the test ~1 s and a few MiB."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, content in members.items():
            head, zeros = (content, 0) if isinstance(content, bytes) else content
            with zf.open(name, "w", force_zip64=True) as f:
                f.write(head)
                chunk = bytes(1 << 24)
                while zeros:
                    f.write(chunk[: min(zeros, len(chunk))])
                    zeros -= min(zeros, len(chunk))
    return path


def bomb_png(path: Path, width: int, height: int) -> Path:
    """A valid 8-bit grey PNG of zeros, width x height pixels, in a few MiB (rows deflated as a stream)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(width + 1)  # filter byte 0, then the pixels
    per_block = max(1, (1 << 24) // len(row))
    block, comp, parts, left = row * per_block, zlib.compressobj(1), [], height
    while left:
        n = min(left, per_block)
        parts.append(comp.compress(block if n == per_block else row * n))
        left -= n
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts))
                     + chunk(b"IEND", b""))
    return path


def small_npz(path: Path, labels=None, n: int = 20, **extra) -> Path:
    arrays = {"images": np.random.default_rng(0).integers(0, 256, (n, 8, 8), dtype=np.uint8), **extra}
    if labels is not None:
        arrays["labels"] = np.asarray(labels)
    np.savez(path, **arrays)
    return path


def folder_with(root: Path, *bombs: tuple[str, int, int]) -> Path:
    """An unlabelled folder: 6 small grey PNGs and the given (name, width, height) bombs."""
    from PIL import Image

    root.mkdir(parents=True)
    for i in range(6):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8), "L").save(root / f"{i}.png")
    for name, width, height in bombs:
        bomb_png(root / name, width, height)
    return root


def vm_size() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))


@contextlib.contextmanager
def ceiling(headroom: int = IN_PROCESS_HEADROOM):
    """This process's address space capped at its size now + ``headroom`` for the block (then restored):
    a regression that allocates without bound raises MemoryError here instead of exhausting the machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = vm_size() + headroom
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def fit(run: Path, *data_args: str) -> list[str]:
    """``regae fit`` in-process: the error lines, after checking exit code 2, one line, no traceback, no run folder."""
    # one step at most: a regression that accepts the data fails the test at once, without training
    with ceiling():
        code, _, err = run_cli("fit", "--trainer.default_root_dir", str(run), "--trainer.max_steps", "1", *TINY,
                               *data_args)
    return check_refused(code, err, run)


def check_refused(code: int, err: str, run: Path) -> list[str]:
    lines = [line for line in err.splitlines() if line.startswith("regae: error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err[-3000:]
    assert not run.exists()  # no run folder, no config, no checkpoint
    return lines


# ---------------------------------------------------------------- the memory cases, in one limited child

CHILD = r"""
import json, resource, sys
import torch
torch.set_num_threads(1)
from PIL import Image
from regae.data import load_dataset
from regae.errors import RegaeError
from tests.support.helpers import run_cli

cases, headroom, warmup = json.loads(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
pil_default = Image.MAX_IMAGE_PIXELS
for args in warmup:  # import and exercise the CLI and the loaders before the ceiling is set
    run_cli(*args) if args[0] == "fit" else load_dataset(args[1])

def vm(key="VmSize:"):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

base = vm()
hard = resource.getrlimit(resource.RLIMIT_AS)[1]
resource.setrlimit(resource.RLIMIT_AS, (base + headroom if hard == resource.RLIM_INFINITY else min(base + headroom, hard), hard))
out = {"baseline": base}
for case in cases:
    Image.MAX_IMAGE_PIXELS = pil_default if case.get("pil_off") is None else None
    try:
        if "cli" in case:
            code, _, err = run_cli(*case["cli"])
            result = {"code": code, "err": err[-3000:]}
        else:
            data = load_dataset(*case["load"], **case.get("kwargs", {}))
            result = {"loaded": data.summary(), "skipped": getattr(data, "skipped", None)}
    except RegaeError as exc:
        result = {"error": type(exc).__name__, "message": str(exc)}
    except BaseException as exc:  # MemoryError: the regression the ceiling turns into a failure
        result = {"crash": f"{type(exc).__name__}: {exc}"[:500]}
    result["peak_mib"] = round((vm("VmPeak:") - base) / 2**20, 1)  # the most any case so far added
    out[case["name"]] = result
try:
    bytearray(headroom)
    out["ceiling"] = "not enforced"
except MemoryError:
    out["ceiling"] = "enforced"
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def limited(tmp_path_factory) -> dict:
    """Runs every memory case once in a child under RLIMIT_AS; case name -> its result (and the run folders)."""
    d = tmp_path_factory.mktemp("limited")
    huge = small_npz(d / "huge_label.npz", labels=[2**62] + [0] * 19)
    # images (2**27, 1, 1) = 128 MiB, within --data.max_bytes=256 MiB; labels 2**27 int64 = 1 GiB, ~5 MiB on disk
    n = 2**27
    inflated = write_zip(d / "inflated.npz", {
        "images.npy": (npy_header((n, 1, 1), "|u1"), n),
        "labels.npy": (npy_header((n,), "<i8"), 8 * n),
    })
    bombs = folder_with(d / "bombs", ("bomb.png", 30_000, 30_000))
    valid_npz = small_npz(d / "valid.npz", labels=np.arange(20) % 3)
    valid_folder = make_rgb_folder(d / "valid_folder", per_class=4)
    wrong = small_npz(d / "wrong.npz", labels=np.zeros(19, int))
    runs = {k: d / f"run-{k}" for k in ("huge_label", "inflated", "bomb")}

    def cli(key: str, *data: str) -> list[str]:
        return ["fit", "--trainer.default_root_dir", str(runs[key]), "--trainer.max_steps", "1", *TINY, *data]

    cases = [
        {"name": "valid_npz", "load": [f"npz:{valid_npz}"]},  # the ceiling leaves room for correct loads
        {"name": "valid_folder", "load": [f"folder:{valid_folder}"]},
        {"name": "huge_label", "cli": cli("huge_label", "--data.dataset", f"npz:{huge}")},
        {"name": "huge_label_load", "load": [f"npz:{huge}"]},
        {"name": "inflated", "cli": cli("inflated", "--data.dataset", f"npz:{inflated}",
                                        "--data.max_bytes", str(256 * 2**20))},
        {"name": "inflated_load", "load": [f"npz:{inflated}"], "kwargs": {"max_bytes": 256 * 2**20}},
        {"name": "bomb", "cli": cli("bomb", "--data.dataset", f"folder:{bombs}"), "pil_off": True},
        {"name": "bomb_skipped", "load": [f"folder:{bombs}"], "kwargs": {"skip_bad_files": True}, "pil_off": True},
    ]
    warmup = [["fit", "--trainer.default_root_dir", str(d / "warm"), *TINY, "--data.dataset", f"npz:{wrong}"],
              ["load", f"folder:{valid_folder}"]]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2",
           "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cases), str(HEADROOM), json.dumps(warmup)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert done.returncode == 0 and line, (done.stdout[-2000:], done.stderr[-3000:])
    out = json.loads(line.removeprefix("RESULT "))
    assert out["ceiling"] == "enforced", out
    for name in ("valid_npz", "valid_folder"):
        assert "loaded" in out[name], out[name]
    return {**out, "runs": runs}


def limited_cli(limited: dict, name: str) -> str:
    result = limited[name]
    assert "code" in result, result  # {'crash': 'MemoryError...'}: the regression
    assert result["peak_mib"] < SPENT_MIB, result  # what the refusal cost, on top of the baseline
    return check_refused(result["code"], result["err"], limited["runs"][name])[0]


def limited_error(limited: dict, name: str) -> str:
    result = limited[name]
    assert result.get("error") == "DataError" and result["peak_mib"] < SPENT_MIB, result
    return result["message"]


def test_huge_label_is_one_line_in_bounded_memory(limited):
    line = limited_cli(limited, "huge_label")
    assert "`labels`: a label is 4611686018427387904, but labels must be class indices 0..K-1" in line
    assert f"at most {MAX_CLASSES:,} classes" in line
    assert "a label is 4611686018427387904" in limited_error(limited, "huge_label_load")


def test_inflated_labels_member_is_refused_from_its_header(limited):
    line = limited_cli(limited, "inflated")
    assert ("`labels` (134217728,) int64 would need 1.0 GiB in memory, more than the cap "
            "--data.max_bytes=268435456") in line
    assert "`labels` (134217728,) int64 would need 1.0 GiB" in limited_error(limited, "inflated_load")


def test_decompression_bomb_png_with_pil_guard_off(limited):
    line = limited_cli(limited, "bomb")
    assert ("bomb.png (30000x30000 = 900,000,000 pixels, more than the limit of 89,478,485 pixels per image "
            "(regae.data.folder.MAX_IMAGE_PIXELS, PIL's guard being off)") in line
    assert "--data.skip_bad_files true" in line
    assert limited["bomb_skipped"]["skipped"] == 1 and "train 5 / test 1 images" in limited["bomb_skipped"]["loaded"]


# ---------------------------------------------------------------- in-process cases


@pytest.mark.parametrize("labels, message", [
    ([-5] + [0] * 19, "a label is -5, but labels must be >= 0 (-1 only for a dataset without labels"),
    ([-1] * 10 + [1] * 10, "labels mix -1 (no label) with class indices 0..1"),
    ([MAX_CLASSES] + [0] * 19, f"a label is {MAX_CLASSES}, but labels must be class indices"),
    (np.array([2**64 - 1] + [0] * 19, dtype=np.uint64), "a label is 18446744073709551615"),  # not -1 once int64
])
def test_bad_label_values_are_one_line(tmp_path, labels, message):
    path = small_npz(tmp_path / "labels.npz", labels=labels)
    line = fit(tmp_path / "run", "--data.dataset", f"npz:{path}")[0]
    assert f"npz:{path} `labels`: {message}" in line


def test_labels_all_minus_one_mean_unlabelled_and_max_class_is_allowed(tmp_path):
    with ceiling():
        data = load_dataset(f"npz:{small_npz(tmp_path / 'none.npz', labels=[-1] * 20, classes=np.array(['a']))}")
        assert data.classes is None and not data.labelled and (data.train.labels == -1).all()
        data = load_dataset(f"npz:{small_npz(tmp_path / 'top.npz', labels=[MAX_CLASSES - 1] + [0] * 19)}")
    assert len(data.classes) == MAX_CLASSES


class RunsCode:
    """Unpickling this would create a file: a data file must never be unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("member", ["labels", "classes", "images", "test_labels"])
def test_object_dtype_member_is_one_line_and_never_unpickled(tmp_path, member):
    marker = tmp_path / "PWNED"
    objects = np.array([RunsCode(marker)] + [0] * 19, dtype=object)
    extra = {"test_images": np.zeros((4, 8, 8), np.uint8), "test_labels": np.zeros(4, int)}
    if member == "test_labels":
        extra["test_labels"] = objects[:4]
    path = small_npz(tmp_path / "objects.npz", labels=objects if member == "labels" else np.zeros(20, int),
                     **({"classes": objects} if member == "classes" else {}), **extra)
    if member == "images":
        np.savez(path, images=objects)
    line = fit(tmp_path / "run", "--data.dataset", f"npz:{path}")[0]
    assert (f"`{member}` holds Python objects (dtype object); it must be a plain numeric or string array, "
            "not objects") in line
    assert not marker.exists()


@pytest.mark.parametrize("case, message", [
    ("padded", "`labels` unpacks to 16.0 MiB, far more than its shape (20,) int64 needs (288 B)"),
    ("truncated", "`labels` is truncated: its header says (20,) int64 (288 bytes), its zip entry holds 208"),
    ("claims_8_tib", "`labels` (1099511627776,) int64 would need 8192.0 GiB in memory, more than the cap"),
    ("huge_classes", "`classes` (1000,) <U100000 would need 381.5 MiB in memory, more than the cap"),
    ("wrong_count", "`labels`: expected 20 labels (one per image), got shape (30000000,)"),
])
def test_npz_member_checked_from_its_headers(tmp_path, case, message):
    images = npy_bytes(np.zeros((20, 8, 8), np.uint8))
    members: dict[str, bytes | tuple[bytes, int]] = {"images.npy": images}
    if case == "padded":
        members["labels.npy"] = (npy_header((20,), "<i8"), 160 + 16 * 2**20)
    elif case == "truncated":
        members["labels.npy"] = (npy_header((20,), "<i8"), 80)
    elif case == "claims_8_tib":
        members["labels.npy"] = (npy_header((2**40,), "<i8"), 160)
    elif case == "huge_classes":
        members["labels.npy"] = npy_bytes(np.zeros(20, int))
        members["classes.npy"] = (npy_header((1000,), "<U100000"), 400_000_000)
    elif case == "wrong_count":
        members["labels.npy"] = (npy_header((30_000_000,), "<i8"), 240_000_000)
    path = write_zip(tmp_path / f"{case}.npz", members)
    max_bytes = ["--data.max_bytes", str(256 * 2**20)] if case == "huge_classes" else []
    line = fit(tmp_path / "run", "--data.dataset", f"npz:{path}", *max_bytes)[0]
    assert message in line


@pytest.mark.parametrize("width, height", [(30_000, 30_000), (10_000, 10_000)])  # over PIL's 2x limit, under it
def test_decompression_bomb_png_is_a_bad_image(tmp_path, width, height):
    root = folder_with(tmp_path / "f", ("bomb.png", width, height))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = fit(tmp_path / "run", "--data.dataset", f"folder:{root}")[0]
        with ceiling():
            skipped = load_dataset(f"folder:{root}", skip_bad_files=True)
    assert f"1 file(s) with an image extension are not readable images, first: {root / 'bomb.png'} (" in line
    assert f"{width * height:,} pixels, more than the limit of {PIL_DEFAULT_PIXELS:,} pixels per image" in line
    assert skipped.skipped == 1 and len(skipped.train.images) + len(skipped.test.images) == 6
    assert not [w for w in caught if "DecompressionBomb" in type(w.message).__name__]
    assert MAX_IMAGE_PIXELS == PIL_DEFAULT_PIXELS


@pytest.fixture
def lock(monkeypatch):
    """chmod 000 a folder. As root, whom chmod does not stop, listing it or any folder below it
    (os.scandir: os.walk, pathlib's glob; os.listdir: Path.iterdir) raises EACCES as for any user."""
    locked: list[Path] = []

    def guard(real):
        def listing(path="."):
            where = Path(os.fsdecode(path)).absolute()
            if any(where == f or f in where.parents for f in locked):
                raise PermissionError(13, "Permission denied", os.fsdecode(path))
            return real(path)
        return listing

    if os.geteuid() == 0:
        monkeypatch.setattr(os, "scandir", guard(os.scandir))
        monkeypatch.setattr(os, "listdir", guard(os.listdir))

    def do(folder: Path) -> Path:
        folder.chmod(0)
        locked.append(folder)
        return folder

    yield do
    for folder in locked:
        folder.chmod(stat.S_IRWXU)


def test_unreadable_test_folder_is_one_line(tmp_path, lock):
    root = make_rgb_folder(tmp_path / "split", per_class=5, split=True)
    lock(root / "test")
    for skip in ("false", "true"):  # a split cannot be skipped
        line = fit(tmp_path / "run", "--data.dataset", f"folder:{root}", "--data.skip_bad_files", skip)[0]
        assert line.endswith(f"cannot read the folder {root / 'test'} (Permission denied); fix its permissions")


def test_unreadable_subfolder_is_one_line_or_skipped(tmp_path, lock):
    root = make_rgb_folder(tmp_path / "cells", per_class=6)
    (root / "red" / "more").mkdir()
    for i in range(3):
        shutil.copy(root / "red" / "0000.png", root / "red" / "more" / f"{i}.png")
    before = load_dataset(f"folder:{root}")
    assert len(before.train.images) + len(before.test.images) == 21
    lock(root / "red" / "more")
    line = fit(tmp_path / "run", "--data.dataset", f"folder:{root}")[0]
    assert (f"1 folder(s) cannot be read, first: {root / 'red' / 'more'} (Permission denied); fix their "
            "permissions, or pass --data.skip_bad_files true") in line
    data = load_dataset(f"folder:{root}", skip_bad_files=True)
    assert data.skipped_folders == 1 and len(data.train.images) + len(data.test.images) == 18
    lock(root / "blue")  # a whole class unreadable and skipped: still an error, the class has no images
    with pytest.raises(DataError, match="class folder.* without images: blue"):
        load_dataset(f"folder:{root}", skip_bad_files=True)


def test_idx_labels_file_checked_from_its_header(tmp_path):
    import torch

    from tests.support.helpers import write_idx
    from tests.support.owndata import make_idx_folder

    root = make_idx_folder(tmp_path / "idx", n_train=6, n_test=3, size=4)
    for f in root.iterdir():
        if f.name.startswith("train-labels"):
            f.unlink()
    write_idx(root / "train-labels-idx1-ubyte.gz", torch.zeros(50_000_000, dtype=torch.uint8))
    line = fit(tmp_path / "run", "--data.dataset", f"idx:{root}")[0]
    assert "train-labels-idx1-ubyte.gz: expected 6 labels (one per image), got shape (50000000,)" in line


# ---------------------------------------------------------------- fuzzing


DTYPES = ["u1", "i1", "u2", "<i2", ">i4", "u4", "i8", "u8", "f4", "f8", "?", "c8", "U3", "S2", "O", "V3", "struct"]
LABEL_VALUES = [0, 1, 2, 5, -1, -2, MAX_CLASSES - 1, MAX_CLASSES, 2**31, 2**62, -(2**63)]


def one_in(k: int) -> st.SearchStrategy[bool]:
    """True once in k draws (integers() would favour its bounds)."""
    return st.sampled_from([False] * (k - 1) + [True])  # index 0 is drawn more often: make it False


def anything(draw) -> np.ndarray:
    """Any small array: any rank, any dtype (objects, strings, void, structured included)."""
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
    if dtype in ("V3", "struct"):  # no Hypothesis strategy for void / structured dtypes: zeros
        return np.zeros(shape, dtype="V3" if dtype == "V3" else [("a", "<i4"), ("b", "u1")])
    if dtype == "O":
        return np.array(draw(st.lists(st.one_of(st.integers(), st.text(max_size=3)), min_size=1, max_size=4)) + [None],
                        dtype=object)
    return draw(hnp.arrays(np.dtype(dtype), shape))


def labels_of(draw, n: int) -> np.ndarray:
    """n labels of an integer dtype, values from the edges (-1, MAX_CLASSES, 2**62, ...)."""
    dtype = draw(st.sampled_from(["i1", "i8", "u8", "<u4", ">i8"]))
    edges = [v for v in LABEL_VALUES if np.can_cast(np.min_scalar_type(v), dtype)]
    value = one_in(10).flatmap(lambda edge: st.sampled_from(edges) if edge else st.integers(0, 2))
    return np.array(draw(st.lists(value, min_size=n, max_size=n)), dtype=dtype)


@st.composite
def npz_archive(draw) -> tuple[dict[str, np.ndarray], str | None, int]:
    """Mostly what the format asks for (so the later checks are reached), each member sometimes anything."""
    wild = one_in(5)  # one member in five is anything
    n, m = draw(st.integers(0, 6)), draw(st.integers(0, 3))
    hw = (draw(st.integers(1, 4)) * (not draw(one_in(10))), draw(st.integers(1, 4)),
          *draw(st.sampled_from([(), (1,), (3,)])))
    arrays = {}
    if not draw(one_in(10)):
        arrays["images"] = draw(hnp.arrays(np.uint8, (n, *hw))) if not draw(wild) else anything(draw)
    if draw(st.booleans()):
        arrays["labels"] = labels_of(draw, n) if not draw(wild) else anything(draw)
    if draw(st.booleans()):
        arrays["test_images"] = draw(hnp.arrays(np.uint8, (m, *hw))) if not draw(wild) else anything(draw)
        if "labels" in arrays and not draw(one_in(6)):
            arrays["test_labels"] = labels_of(draw, m) if not draw(wild) else anything(draw)
    if draw(one_in(4)):
        arrays["classes"] = (draw(hnp.arrays(draw(st.sampled_from(["U4", "S3", "i2"])), draw(st.integers(0, 7))))
                             if not draw(wild) else anything(draw))
    if draw(one_in(10)):
        arrays[draw(st.sampled_from(["x", "labels.npy", "Images"]))] = anything(draw)
    damage = draw(st.sampled_from([None] * 18 + ["truncate", "flip"]))
    return arrays, damage, draw(st.integers(0, 2**31))


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(archive=npz_archive(), max_bytes=st.sampled_from([10**6] * 4 + [1, 300]))
def test_fuzzed_npz_loads_or_is_one_clear_error(tmp_path_factory, archive, max_bytes):
    arrays, damage, where = archive
    path = tmp_path_factory.mktemp("fuzz") / "f.npz"
    np.savez(path, **arrays)
    if damage:
        raw = bytearray(path.read_bytes())
        at = where % len(raw)
        raw = raw[:at] if damage == "truncate" else raw[:at] + bytes([raw[at] ^ 0xFF]) + raw[at + 1:]
        path.write_bytes(bytes(raw))
    try:
        with ceiling():
            data = load_dataset(f"npz:{path}", max_bytes=max_bytes)
    except (DataError, ConfigError) as exc:
        assert str(exc) and "\n" not in str(exc)[:400]
        event(f"refused: {re.sub(r'[0-9(),<>|]+', '', str(exc).split(': ', 1)[-1])[:24]}")
        return
    event("loaded")
    labels = np.concatenate([data.train.labels.numpy(), data.test.labels.numpy()])
    assert labels.min() >= -1 and labels.max() < MAX_CLASSES
    assert (data.classes is None) == bool((labels == -1).all())
    assert data.nbytes <= max_bytes + 8 * len(labels)

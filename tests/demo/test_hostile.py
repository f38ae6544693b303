"""The demo against what a careless or hostile world hands it: bad checkpoints, huge canvases, many requests.

* one bad checkpoint (NaN weights, codes that overflow, a malformed dict, an absurd size, or any
  exception at all) makes that checkpoint unusable with a one-line reason; the others are served;
* a canvas value gets the upload's limits, checked from the image header before anything is
  decoded: a 16 KB PNG that says 6000x6000 is refused with one message, and the server's
  memory does not move;
* the temp folders of N requests (Gradio's per-file cache folders, which its own cleanup
  empties but never removes) are gone when the demo stops.

No browser: the Predictor, the app through gradio_client, demo.draw, and ``python -m demo``.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import os
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from PIL import Image  # noqa: E402

import demo.predictor as predictor_module  # noqa: E402
from demo.draw import MAX_UPLOAD_PIXELS, InputImageError, read_image, sketch_image  # noqa: E402
from demo.predictor import Predictor, training_data  # noqa: E402
from demo.tempdir import owned_temp_dir, prune_empty_folders  # noqa: E402
from regae.data import load_split  # noqa: E402
from regae.errors import CheckpointError, RegaeError  # noqa: E402
from tests.demo.paths import SLIM  # noqa: E402
from tests.support.demo import free_port, launch, small_reference  # noqa: E402

pytestmark = pytest.mark.faults  # the hostile-input sweep runs in `nox -s faults`

ROOT = Path(__file__).resolve().parents[2]
MB = 2**20


# --- bad checkpoints ---------------------------------------------------------------------------

def _nan_weights(c):
    for t in c["state_dict"].values():
        if t.is_floating_point():
            t.fill_(float("nan"))


def _overflowing_codes(c):
    """Finite weights whose codes are not: ±3e38 alternating in the projection make inf − inf = NaN."""
    w = c["state_dict"]["net.encoder.project.weight"]
    w.copy_(torch.full_like(w, 3e38) * (torch.arange(w.shape[1]) % 2 * 2 - 1))


BAD = {  # name -> how a copy of the slim sparse.ckpt is spoilt
    "nan-weights": _nan_weights,
    "overflow": _overflowing_codes,
    "hparams-list": lambda c: c.__setitem__("hyper_parameters", [1, 2]),
    "state-list": lambda c: c.__setitem__("state_dict", [1, 2]),
    "regae-string": lambda c: c.__setitem__("regae", "a string"),
    "datamodule-string": lambda c: c.__setitem__("datamodule_hyper_parameters", "a string"),
    "record-dataset-int": lambda c: c.__setitem__("ImageDataModule", {"record": {"dataset": 12345}}),
    "huge-latent": lambda c: c["hyper_parameters"].__setitem__("latent_dim", 10**9),
}
MAYBE = {  # harmless to some versions of regae.checkpoints.read (read as MNIST's), refused by others
    "record-string": lambda c: c.__setitem__("ImageDataModule", {"record": "mnist"}),
}


def own_or_small_mnist(model):
    """A slice of MNIST for MNIST models, else the data the checkpoint records (so a bad record fails)."""
    return small_reference() if model.data_record is None else training_data(model)


@contextlib.contextmanager
def address_space_limit(extra: int):
    """At most ``extra`` more bytes of address space meanwhile: an absurd allocation fails, it does not
    swap the machine (the kernel may overcommit a 6 TB request that is never touched until init)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    limit = vm + extra if hard == resource.RLIM_INFINITY else min(hard, vm + extra)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bad-checkpoints")
    (folder / "good.ckpt").write_bytes((SLIM / "sparse.ckpt").read_bytes())
    base = torch.load(SLIM / "sparse.ckpt", weights_only=True)
    for name, spoil in {**BAD, **MAYBE}.items():
        ckpt = copy.deepcopy(base)
        spoil(ckpt)
        torch.save(ckpt, folder / f"{name}.ckpt")
    return folder


@pytest.fixture(scope="module")
def bad(bad_folder) -> tuple[Predictor, dict[str, str | None]]:
    predictor = Predictor(bad_folder, reference=own_or_small_mnist)
    with address_space_limit(6 * 2**30):
        status = predictor.status()
    return predictor, status


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    test = load_split("test")
    return test.images[0].numpy() / 255.0, test.images[1].numpy() / 255.0  # a 7 and a 2


def test_each_bad_checkpoint_is_listed_with_its_reason_and_the_good_one_works(bad, pair):
    predictor, status = bad
    assert set(status) == {"good", *BAD, *MAYBE}
    assert status["good"] is None
    for name in BAD:
        reason = status[name]
        assert reason, f"{name} should be unusable"
        assert "\n" not in reason and len(reason) <= predictor_module.REASON_CHARS, reason
        with pytest.raises(CheckpointError) as raised:  # the same reason when it is asked for again
            predictor.loaded(name)
        assert str(raised.value) == reason
    for name in MAYBE:
        assert status[name] is None or "\n" not in status[name]
    # NaN weights: refused by the reader or by the codes they give; finite weights that overflow:
    # by the codes, before scikit-learn sees them.
    assert "non-finite" in status["nan-weights"]
    assert "the model gives non-finite codes" in status["overflow"]
    assert status["record-dataset-int"].startswith("the data record-dataset-int was trained on cannot be read")
    result = predictor.run("good", *pair, steps=4)  # still serving
    assert [predictor.loaded("good").insight.classifier.class_names[k] for k in result.proba.argmax(1)] == ["7", "2"]


@pytest.mark.parametrize("error", [MemoryError(), ValueError("Input X contains NaN."), AttributeError("'list' object"),
                                   TypeError("unhashable"), RuntimeError("can't allocate memory"),
                                   CheckpointError("checkpoint x.ckpt: refused, and why")])
def test_any_exception_of_one_checkpoint_makes_only_it_unusable(tmp_path, monkeypatch, error):
    """Whatever regae.load does or does not check: any Exception while loading or analysing one checkpoint."""
    for name in ("good", "bad"):
        (tmp_path / f"{name}.ckpt").write_bytes((SLIM / "sparse.ckpt").read_bytes())
    card_from = predictor_module.card_from

    def failing(name, ckpt):
        if name == "bad":
            raise error
        return card_from(name, ckpt)

    monkeypatch.setattr(predictor_module, "card_from", failing)
    status = Predictor(tmp_path, reference=small_reference).status()
    assert status["good"] is None
    reason = status["bad"]
    if isinstance(error, CheckpointError):
        assert reason == str(error)  # its own message, as it is
    else:
        assert reason.startswith("bad: ") and type(error).__name__ in reason
        assert str(error) in reason


def test_keyboard_interrupt_is_not_swallowed(tmp_path, monkeypatch):
    (tmp_path / "m.ckpt").write_bytes((SLIM / "sparse.ckpt").read_bytes())

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(predictor_module, "card_from", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Predictor(tmp_path, reference=small_reference).status()


def test_codes_from_a_drawing_are_checked_before_scikit_learn_sees_them(bad, pair, monkeypatch):
    predictor, _ = bad
    model = predictor.model("good")
    monkeypatch.setattr(model, "encode", lambda x: torch.full((len(x), 32), float("nan")))
    with pytest.raises(RegaeError, match="good: the model gives non-finite codes"):
        predictor.see("good", [pair[0]])


# --- the app over them, and its canvases ---------------------------------------------------------

def composite(path: Path) -> dict:
    return {"background": None, "layers": [], "composite": handle_file(str(path))}


UNTOUCHED = {"background": None, "layers": [], "composite": None}


def drawing(path: Path) -> dict:
    img = np.full((280, 280, 4), 255, dtype=np.uint8)
    img[30:250, 130:155, :3] = 0  # a vertical stroke: a one
    Image.fromarray(img).save(path)
    return composite(path)


def blank_png(path: Path, width: int, height: int) -> Path:
    """A white grey PNG of width x height, written row by row: the file is tiny, the image is not."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z = zlib.compressobj(9)
    row = b"\x00" + b"\xff" * width  # filter byte 0, then the row
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def rss() -> int:
    """This process's resident memory now, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def peak_rss(every_s: float = 0.002):
    """The highest resident memory seen meanwhile (sampled every 2 ms), in ``peak[0]``."""
    peak, stop = [rss()], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(every_s)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()
        peak[0] = max(peak[0], rss())


@pytest.fixture(scope="module")
def served(bad):
    predictor, _ = bad
    app = launch(predictor)
    yield app, Client(app.local_url, verbose=False, download_files=os.environ["GRADIO_TEMP_DIR"])
    app.close()


def test_the_page_opens_with_the_good_checkpoint_and_says_which_are_unusable_and_why(served, bad, tmp_path):
    app, client = served
    _, status = bad
    props = {c["props"].get("elem_id"): c["props"] for c in app.config["components"]}
    cards = props["status"]["value"]
    for name, reason in status.items():
        if reason is not None:
            assert f"| `{name}` | | **unusable**: {reason.replace('|', chr(92) + '|')} |" in cards
    assert [value for _, value in props["model"]["choices"]] == [n for n, r in status.items() if r is None]
    assert props["model"]["value"] == "good"
    out = client.predict("good", drawing(tmp_path / "one.png"), drawing(tmp_path / "one.png"), 3, api_name="/run")
    assert out[4]["label"] == "1"


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident memory from /proc")
def test_a_huge_canvas_is_refused_before_it_is_decoded(served, tmp_path, capfd):
    """A 6000x6000 PNG of a few KB as a canvas value: one message, no traceback, and no memory taken.

    Gradio's own Sketchpad decoded it before any handler ran (measured: the server from 1 to 2.8 GB)."""
    _, client = served
    huge = blank_png(tmp_path / "huge.png", 6000, 6000)
    assert huge.stat().st_size < 100_000 and Image.open(huge).size == (6000, 6000)
    one = drawing(tmp_path / "one.png")
    client.predict("good", one, one, 3, api_name="/run")  # warm: the request path itself is measured below
    gc.collect()
    capfd.readouterr()
    before = rss()
    with peak_rss() as peak:
        with pytest.raises(Exception, match=r"Digit A: image too large: 6000x6000 px \(limit 25 megapixels\)"):
            client.predict("good", composite(huge), one, 3, api_name="/run")
        status_line = client.predict("good", composite(huge), UNTOUCHED, 3, None, None, api_name="/live")[-1]
    assert "Digit A: image too large: 6000x6000 px (limit 25 megapixels)." in status_line
    assert peak[0] - before < 60 * MB, f"{(peak[0] - before) / MB:.0f} MB more while refusing it"  # RGBA alone: 137 MB
    assert rss() - before < 30 * MB  # nothing kept
    assert "Traceback" not in capfd.readouterr().err
    assert client.predict("good", one, one, 3, api_name="/run")[4]["label"] == "1"  # still serving


CHILD = """
import resource, sys
from demo.draw import InputImageError, read_image, sketch_image
vm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (vm + 300 * 2**20, resource.getrlimit(resource.RLIMIT_AS)[1]))
path = sys.argv[1]
for value in ({"background": None, "layers": [], "composite": path}, open(path, "rb").read()):
    try:
        sketch_image(value) if isinstance(value, dict) else read_image(value)
        print("decoded")
    except InputImageError as exc:
        print("refused:", exc)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the address space from /proc")
def test_the_canvas_reader_refuses_a_13000_px_image_within_300_mb(tmp_path):
    """In a child with 300 MB of address space to spare: 169 megapixels (676 MB as RGBA) are never decoded."""
    huge = blank_png(tmp_path / "huge.png", 13000, 13000)
    assert huge.stat().st_size < 1_000_000
    done = subprocess.run([sys.executable, "-c", CHILD, str(huge)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["refused: image too large: 13000x13000 px (limit 25 megapixels)"] * 2


def test_canvas_values_get_the_upload_limits(tmp_path):
    good = tmp_path / "digit.png"
    Image.fromarray(np.full((280, 280, 4), 255, dtype=np.uint8)).save(good)
    assert sketch_image({"background": None, "layers": [], "composite": str(good)}).shape == (280, 280, 4)
    assert sketch_image({"background": good.read_bytes(), "layers": [], "composite": None}).shape == (280, 280, 4)
    with pytest.raises(InputImageError, match="too large: 6000x5000"):
        sketch_image({"composite": blank_png(tmp_path / "wide.png", 6000, 5000)})
    with pytest.raises(InputImageError, match="too large: 6000x5000"):
        sketch_image(np.zeros((5000, 6000), dtype=np.uint8))  # an array already made
    with pytest.raises(InputImageError, match=r"too large: 400 megapixels \(limit 25 megapixels\)"):
        read_image(blank_png(tmp_path / "bomb.png", 20000, 20000))  # past Pillow's own limit too
    junk = tmp_path / "junk.png"
    junk.write_text("not an image")
    with pytest.raises(InputImageError, match="not an image file"):
        sketch_image({"composite": str(junk)})
    with pytest.raises(InputImageError, match="not an image file Pillow can read: the canvas image"):
        read_image(b"not an image either")
    heavy = tmp_path / "heavy.png"
    with open(heavy, "wb") as f:
        f.truncate(11 * MB)
    with pytest.raises(InputImageError, match="too large: 11.0 MB"):
        sketch_image({"composite": str(heavy)})
    assert MAX_UPLOAD_PIXELS == 25_000_000


# --- temp folders ------------------------------------------------------------------------------

def empty_folders(root: Path) -> list[Path]:
    return [Path(d) for d, sub, files in os.walk(root) if not sub and not files and Path(d) != root]


def test_the_temp_folders_of_n_requests_are_removed(tmp_path):
    """Gradio empties its per-file cache folders but never removes them; the demo's own folder goes at exit."""
    parent = tmp_path / "parent"
    env, tmp = os.environ.get("GRADIO_TEMP_DIR"), tempfile.tempdir
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "good.ckpt").write_bytes((SLIM / "sparse.ckpt").read_bytes())
    n = 4
    with owned_temp_dir(parent, prune_every=3600) as root:
        assert root.parent == parent and os.environ["GRADIO_TEMP_DIR"] == str(root / "gradio")
        assert tempfile.gettempdir() == str(root)
        app = launch(Predictor(tmp_path / "good", reference=small_reference))
        try:
            client = Client(app.local_url, verbose=False, download_files=str(tmp_path / "downloads"))
            for i in range(n):
                img = np.full((280, 280, 4), 255, dtype=np.uint8)
                img[30:250, 100 + 10 * i : 125 + 10 * i, :3] = 0  # a different drawing each time
                Image.fromarray(img).save(tmp_path / f"in{i}.png")
                client.predict("good", composite(tmp_path / f"in{i}.png"), composite(tmp_path / f"in{i}.png"), 3,
                               api_name="/run")
            cached = [p for p in (root / "gradio").rglob("*") if p.is_file()]
            assert len(cached) >= n  # what Gradio keeps of the requests is under the demo's folder
        finally:
            app.close()
        left = empty_folders(root / "gradio")
        assert len(left) >= n  # Gradio deleted its files at close and left their folders
        assert prune_empty_folders(root / "gradio", empty_for=0) == len(left)
        assert empty_folders(root / "gradio") == [] and (root / "gradio").is_dir()
    assert not root.exists() and list(parent.iterdir()) == []
    assert os.environ.get("GRADIO_TEMP_DIR") == env and tempfile.tempdir == tmp


def test_pruning_leaves_recent_and_full_folders(tmp_path):
    old, recent, full = tmp_path / "old", tmp_path / "recent", tmp_path / "full"
    for d in (old, recent, full):
        d.mkdir()
    (full / "image.png").write_bytes(b"x")
    long_ago = time.time() - 7200
    for d in (old, full):
        os.utime(d, (long_ago, long_ago))
    assert prune_empty_folders(tmp_path, empty_for=600) == 1
    assert not old.exists() and recent.is_dir() and full.is_dir() and tmp_path.is_dir()


@pytest.mark.slow  # starts python -m demo, which analyses on all of MNIST: about a minute on a busy machine
def test_python_m_demo_serves_the_good_checkpoint_and_leaves_no_temp_folders(bad_folder, tmp_path):
    """The real thing: ``python -m demo`` over good + bad checkpoints starts, serves, and on SIGTERM
    stops with exit status 0 and nothing left under GRADIO_TEMP_DIR."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name in ("good", "overflow", "datamodule-string", "state-list"):
        (folder / f"{name}.ckpt").write_bytes((bad_folder / f"{name}.ckpt").read_bytes())
    gradio_tmp = tmp_path / "gradio-tmp"
    port = free_port()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(gradio_tmp), "GRADIO_ANALYTICS_ENABLED": "False"}
    server = subprocess.Popen([sys.executable, "-m", "demo", "--checkpoints", str(folder), "--port", str(port),
                               "--cache", str(tmp_path / "cache")],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, server.stdout.read()[-3000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "python -m demo did not start serving"
                time.sleep(1)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=str(tmp_path / "downloads"))
        for i in range(3):
            out = client.predict("good", drawing(tmp_path / f"in{i}.png"), drawing(tmp_path / f"in{i}.png"), 3,
                                 api_name="/run")
            assert out[4]["label"] == "1"
        owned = list(gradio_tmp.iterdir())
        assert len(owned) == 1 and owned[0].name.startswith("regae-demo-")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            log = server.communicate(timeout=60)[0]
        except subprocess.TimeoutExpired:
            server.kill()
            log = server.communicate()[0]
    assert server.returncode == 0, log[-3000:]
    assert "Traceback" not in log
    for name in ("overflow", "datamodule-string", "state-list"):
        assert f"checkpoint {name} is unusable" in log
    assert "the model gives non-finite codes" in log
    assert list(gradio_tmp.iterdir()) == []

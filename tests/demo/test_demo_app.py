"""The running Gradio app, end to end through gradio_client (no browser), plus its drawing helpers."""

from __future__ import annotations

import os
import socket
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from PIL import Image  # noqa: E402

from demo.app import build_demo, fmt_psnr, strips_image  # noqa: E402

SHIPPED = Path(os.environ.get("DEMO_CKPT_DIR", Path(__file__).resolve().parents[2] / "demo" / "checkpoints"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(checkpoint_dir: Path):
    demo = build_demo(checkpoint_dir, rng=np.random.default_rng(0))
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    return demo, Client(demo.local_url, verbose=False)


@pytest.fixture(scope="module")
def app():
    demo, client = serve(SHIPPED)
    yield client
    demo.close()


def drawing(path: Path, rows: slice, cols: slice) -> dict:
    """A canvas value as the browser sends it: the composite PNG, black ink on white."""
    img = np.full((280, 280, 4), 255, dtype=np.uint8)
    img[rows, cols, :3] = 0
    Image.fromarray(img).save(path)
    return {"background": None, "layers": [], "composite": handle_file(str(path))}


def test_run_end_to_end(app, tmp_path):
    one = drawing(tmp_path / "one.png", slice(30, 250), slice(130, 155))  # a vertical stroke
    bar = drawing(tmp_path / "bar.png", slice(120, 145), slice(40, 240))  # a horizontal stroke
    seen_a, seen_b, recon_a, recon_b, strips, table, timing = app.predict("sparse", one, bar, 5, api_name="/run")
    a = np.asarray(Image.open(seen_a).convert("L"))
    assert a.shape == (168, 168)  # 28x28 at x6
    assert a[:, 84].max() == 255 and a[:, 0].max() == 0  # the stroke is in the middle column, not at the edge
    b = np.asarray(Image.open(seen_b).convert("L"))
    assert b[84, :].max() == 255  # the bar runs through the middle row
    for path in (recon_a, recon_b):
        assert np.asarray(Image.open(path).convert("L")).shape == (168, 168)
    s = np.asarray(Image.open(strips).convert("L"))
    assert s.shape == (2 * 112 + 3 * 4, 5 * 112 + 6 * 4)  # two rows of 5 tiles of 112 px, 4 px gutters
    rows = table["data"]
    assert [r[0] for r in rows] == ["0.000", "0.250", "0.500", "0.750", "1.000"]
    assert rows[0][1] == rows[-1][1] == "∞" and rows[0][2] == rows[-1][2] == "0.0000"
    assert all(float(r[1]) > 0 and float(r[2]) > 0 for r in rows[1:-1])
    assert "5 steps" in timing and "ms" in timing


def test_bad_inputs_give_messages_and_the_app_keeps_serving(app, tmp_path):
    empty = drawing(tmp_path / "empty.png", slice(0, 0), slice(0, 0))
    bar = drawing(tmp_path / "bar.png", slice(120, 145), slice(40, 240))
    with pytest.raises(Exception, match="Digit A: the image is empty"):
        app.predict("sparse", empty, bar, 6, api_name="/run")
    untouched = {"background": None, "layers": [], "composite": None}
    with pytest.raises(Exception, match="Digit B: the image is empty"):
        app.predict("sparse", bar, untouched, 6, api_name="/run")
    junk = tmp_path / "junk.png"
    junk.write_text("not an image at all")
    with pytest.raises(Exception, match="not an image file"):
        app.predict(handle_file(str(junk)), api_name="/upload")
    # Still serving. The same digit twice: both routes agree up to float rounding at every α.
    rows = app.predict("contractive", bar, bar, 6, api_name="/run")[5]["data"]
    assert all(r[1] == "∞" or float(r[1]) > 100 for r in rows) and all(float(r[2]) < 1e-5 for r in rows)


def test_random_mnist_pair(app):
    a, b, note = app.predict(api_name="/random_pair")
    assert "MNIST test images #" in note
    labels = [int(part.split(")")[0]) for part in note.split("label ")[1:]]
    assert len(labels) == 2 and labels[0] != labels[1]
    for value in (a, b):  # the canvases' editor values
        img = np.asarray(Image.open(value["composite"]).convert("L"))
        assert img.shape == (280, 280) and np.median(img) == 255 and img.min() == 0  # black digit on white


def test_missing_and_corrupt_checkpoints_are_explained(tmp_path):
    (tmp_path / "broken.ckpt").write_bytes(b"\x00" * 100)
    demo, client = serve(tmp_path)
    try:
        bar = drawing(tmp_path / "bar.png", slice(120, 145), slice(40, 240))
        with pytest.raises(Exception, match="No usable checkpoint"):
            client.predict(None, bar, bar, 6, api_name="/run")
        assert any("unusable" in str(c.get("props", {}).get("value", "")) for c in demo.config["components"])
    finally:
        demo.close()


def test_strips_layout_and_psnr_format():
    pixel = np.zeros((3, 28, 28))
    latent = np.ones((3, 28, 28))
    s = strips_image(pixel, latent, zoom_factor=2, gap=1)
    assert s.shape == (2 * 56 + 3, 3 * 56 + 4)
    assert s[1:57, 1:57].max() == 0 and s[58:114, 1:57].min() == 255 and s[0, 0] == 96
    assert fmt_psnr(float("inf")) == "∞" and fmt_psnr(23.456) == "23.46"


def test_command_line_defaults_are_local_and_private():
    from demo.__main__ import DEFAULT_CHECKPOINTS, parse_args

    args = parse_args([])
    assert (args.host, args.port, args.share, args.threads) == ("127.0.0.1", 7860, False, 1)
    assert args.checkpoints == DEFAULT_CHECKPOINTS == Path(__file__).resolve().parents[2] / "demo" / "checkpoints"
    args = parse_args(["--host", "0.0.0.0", "--port", "8080", "--share", "--checkpoints", "/tmp/cks"])
    assert (args.host, args.port, args.share, str(args.checkpoints)) == ("0.0.0.0", 8080, True, "/tmp/cks")
    with pytest.raises(SystemExit):
        parse_args(["--port", "70000"])

"""The running Gradio app, end to end through gradio_client (no browser), plus its drawing helpers."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from PIL import Image  # noqa: E402

from demo.latent_map import LATENT_ROUTE, PIXEL_ROUTE  # noqa: E402
from demo.predictor import Predictor  # noqa: E402
from demo.views import fmt_psnr, strips_image, zoom  # noqa: E402
from tests.support.demo import launch, small_reference  # noqa: E402


def serve(predictor: Predictor):
    demo = launch(predictor)
    return demo, Client(demo.local_url, verbose=False, download_files=os.environ["GRADIO_TEMP_DIR"])


@pytest.fixture(scope="module")
def served(slim):
    demo, client = serve(slim)
    yield demo, client
    demo.close()


@pytest.fixture(scope="module")
def app(served):
    return served[1]


def drawing(path: Path, rows: slice, cols: slice) -> dict:
    """A canvas value as the browser sends it: the composite PNG, black ink on white."""
    img = np.full((280, 280, 4), 255, dtype=np.uint8)
    img[rows, cols, :3] = 0
    Image.fromarray(img).save(path)
    return {"background": None, "layers": [], "composite": handle_file(str(path))}


def grey(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def colour_count(path, colour) -> int:
    return int((np.asarray(Image.open(path).convert("RGB")) == colour).all(2).sum())


UNTOUCHED = {"background": None, "layers": [], "composite": None}


@pytest.fixture(scope="module")
def bare_map(app) -> str:
    """The map before anything is drawn (a hint, not an error, from the live update)."""
    # /live is undocumented, so the client knows no defaults: the two image boxes are passed (None)
    out = app.predict("sparse", UNTOUCHED, UNTOUCHED, 6, None, None, api_name="/live")
    assert out[0] is None and "draw two digits" in out[-1]
    return out[7]


def test_run_end_to_end(app, bare_map, tmp_path):
    one = drawing(tmp_path / "one.png", slice(30, 250), slice(130, 155))  # a vertical stroke
    bar = drawing(tmp_path / "bar.png", slice(120, 145), slice(40, 240))  # a horizontal stroke
    out = app.predict("sparse", one, bar, 5, api_name="/run")
    seen_a, seen_b, recon_a, recon_b, class_a, class_b, strips, latent_map, table, timing = out
    a = grey(seen_a)
    assert a.shape == (168, 168)  # 28x28 at x6
    assert a[:, 84].max() == 255 and a[:, 0].max() == 0  # the stroke is in the middle column, not at the edge
    assert grey(seen_b)[84, :].max() == 255  # the bar runs through the middle row
    for path in (recon_a, recon_b):
        assert grey(path).shape == (168, 168)
    assert class_a["label"] == "1"  # a vertical stroke is a one
    assert len(class_a["confidences"]) == 3 and class_a["confidences"][0]["label"] == class_a["label"]
    assert class_b["label"] in "0123456789"
    s = grey(strips)
    assert s.shape == (2 * 112 + 3 * 4, 5 * 112 + 6 * 4)  # two rows of 5 tiles of 112 px, 4 px gutters
    for ink in (PIXEL_ROUTE, LATENT_ROUTE):  # both routes are drawn on the map
        assert colour_count(latent_map, ink) > colour_count(bare_map, ink) + 100
    rows = table["data"]
    assert table["headers"] == ["α", "class E(pixel mix)", "class latent mix", "PSNR dB", "‖h_α − h'_α‖₂"]
    assert [r[0] for r in rows] == ["0.000", "0.250", "0.500", "0.750", "1.000"]
    # both routes start at A and end at B: the classes at the ends are A's and B's
    assert rows[0][1] == rows[0][2] == "1" and rows[-1][1] == rows[-1][2] == class_b["label"]
    assert rows[0][3] == rows[-1][3] == "∞" and rows[0][4] == rows[-1][4] == "0.0000"
    assert all(float(r[3]) > 0 and float(r[4]) > 0 for r in rows[1:-1])
    assert "5 steps" in timing and "ms" in timing


def test_live_update_shows_what_is_drawn_so_far(app, bare_map, tmp_path):
    """After a stroke on A alone: A's panels, class and mark on the map; no interpolation, no error."""
    one = drawing(tmp_path / "one.png", slice(30, 250), slice(130, 155))
    out = app.predict("sparse", one, UNTOUCHED, 6, None, None, api_name="/live")
    seen_a, seen_b, recon_a, recon_b, class_a, class_b, strips, latent_map, table, timing = out
    assert grey(seen_a).shape == (168, 168) and grey(recon_a).shape == (168, 168)
    assert class_a["label"] == "1"
    assert seen_b is None and recon_b is None and not class_b and strips is None
    assert table["data"] == []
    assert colour_count(latent_map, LATENT_ROUTE) > colour_count(bare_map, LATENT_ROUTE) + 100  # the "A" mark
    assert colour_count(latent_map, PIXEL_ROUTE) == colour_count(bare_map, PIXEL_ROUTE)  # no route yet
    assert "digit A only" in timing and "draw B" in timing


def props_of(demo, elem_id: str) -> dict:
    return next(c["props"] for c in demo.config["components"] if c["props"].get("elem_id") == elem_id)


def test_checkpoint_cards_say_how_each_model_was_trained(served, slim):
    demo, _ = served
    cards = props_of(demo, "status")["value"]
    assert "≈ `sparse` with widths=[8, 16, 32]" in cards and "1,200 steps (epoch 4)" in cards
    assert "≈ `contractive-hutchinson` with widths=[8, 16, 32]" in cards and "1,000 steps" in cards
    assert "dB" in cards and "%" in cards and "| map: classes apart (5-NN) |" in cards
    for name in ("sparse", "contractive"):  # the map's separation, as analysed
        separation = slim.loaded(name).insight.separation
        assert f"| LD: {100 * separation:.1f} % |" in cards
    notes = props_of(demo, "card-notes")["value"]  # in the "About" section
    assert "measured at start-up on the 10,000 MNIST test images" in notes
    assert "Fisher's linear discriminant (LD)" in notes and "5-nearest-neighbour" in notes


def test_the_page_opens_short_with_the_rest_folded_away(served):
    demo, _ = served
    intro = props_of(demo, "intro")["value"]
    assert len([line for line in intro.splitlines() if line.strip()]) <= 3  # a title and one sentence
    about = props_of(demo, "about")
    assert about["open"] is False and about["label"] == "About this demo"


def opening_of(demo):
    """The handler the page runs when it opens (``demo.load``), as the app registered it."""
    (fn,) = [f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", None) == "opening"]
    return fn


def test_the_page_opens_on_a_random_test_pair_already_run(served, slim):
    """What a visitor sees before any input: two test digits on the canvases, their panels and classes, the
    strips, and the map with both routes; the same as Run on those canvases gives."""
    demo, client = served
    canvas_a, canvas_b, photo_a, photo_b, source, *out = opening_of(demo)("sparse", 6)
    seen_a, seen_b, recon_a, recon_b, class_a, class_b, strips, latent_map, table, timing, unit_source = out
    assert unit_source[0] == "sparse" and unit_source[1].shape == (28, 28)  # the unit view's model and A
    np.testing.assert_array_equal(zoom(unit_source[1], 6), seen_a)  # the A the page shows, as the model sees it
    assert photo_a == photo_b == {"__type__": "update"}  # image boxes (colour models) untouched
    for canvas in (canvas_a, canvas_b):
        assert canvas.shape == (280, 280, 3) and np.median(canvas) == 255 and canvas.min() == 0
    assert source.startswith("Opened on a random pair: MNIST test images #")
    labels = [part.split(")")[0] for part in source.split("label ")[1:]]
    assert len(labels) == 2 and labels[0] != labels[1]
    assert seen_a.shape == seen_b.shape == recon_a.shape == (168, 168)
    assert set(class_a) == set(class_b) == set("0123456789")
    assert strips.shape == (2 * 112 + 3 * 4, 6 * 112 + 7 * 4) and strips.max() > 128
    bare = np.asarray(slim.loaded("sparse").insight.map.background.convert("RGB"))
    drawn = np.asarray(latent_map.convert("RGB"))
    for ink in (PIXEL_ROUTE, LATENT_ROUTE):  # both routes are on the map
        assert (drawn == ink).all(2).sum() > (bare == ink).all(2).sum() + 40  # six dots and a line at least
    assert len(table) == 6 and table[0][3] == table[-1][3] == "∞"
    assert "`sparse`: 6 steps, computed in" in timing
    # Run on the canvases as the browser sends them back gives the same page
    paths = []
    for k, canvas in (("a", canvas_a), ("b", canvas_b)):
        paths.append(Path(os.environ["GRADIO_TEMP_DIR"]) / f"opening-{k}.png")
        Image.fromarray(canvas).save(paths[-1])
    ran = client.predict("sparse", *({"background": None, "layers": [], "composite": handle_file(str(p))}
                                     for p in paths), 6, api_name="/run")
    assert np.array_equal(grey(ran[0]), seen_a) and ran[8]["data"] == table


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
    rows = app.predict("contractive", bar, bar, 6, api_name="/run")[8]["data"]
    assert all(r[3] == "∞" or float(r[3]) > 100 for r in rows) and all(float(r[4]) < 1e-5 for r in rows)


def test_random_mnist_pair(app):
    a, b, photo_a, photo_b, note = app.predict(api_name="/random_pair")  # the model menu's first: sparse
    assert photo_a == photo_b == {"__type__": "update"}  # the image boxes (colour models) are left as they are
    assert "MNIST test images #" in note
    labels = [int(part.split(")")[0]) for part in note.split("label ")[1:]]
    assert len(labels) == 2 and labels[0] != labels[1]
    for value in (a, b):  # the canvases' editor values
        img = np.asarray(Image.open(value["composite"]).convert("L"))
        assert img.shape == (280, 280) and np.median(img) == 255 and img.min() < 64  # dark digit on white


def test_missing_and_corrupt_checkpoints_are_explained(tmp_path):
    (tmp_path / "broken.ckpt").write_bytes(b"\x00" * 100)
    demo, client = serve(Predictor(tmp_path, reference=small_reference))
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
    from demo.__main__ import DEFAULT_CHECKPOINTS, cache_dir, parse_args
    from demo.cache import default_cache_dir

    args = parse_args([])
    assert (args.host, args.port, args.share, args.threads, args.concurrency) == ("127.0.0.1", 7860, False, 1, None)
    assert (args.cache, args.no_cache) == (None, False)  # the default cache folder (demo.cache.default_cache_dir)
    assert args.checkpoints == DEFAULT_CHECKPOINTS == Path(__file__).resolve().parents[2] / "demo" / "checkpoints"
    args = parse_args(["--host", "0.0.0.0", "--port", "8080", "--share", "--checkpoints", "/tmp/cks",
                       "--concurrency", "2"])
    assert (args.host, args.port, args.share, str(args.checkpoints), args.concurrency) == (
        "0.0.0.0", 8080, True, "/tmp/cks", 2)
    for bad in (["--port", "70000"], ["--concurrency", "0"], ["--cache", "/tmp/c", "--no-cache"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
    assert cache_dir(parse_args(["--no-cache"])) is None
    assert cache_dir(parse_args(["--cache", "/tmp/c"])) == Path("/tmp/c")
    assert cache_dir(parse_args([])) == default_cache_dir()

"""The demo on checkpoints of other datasets: a 3-class RGB 32x32 folder, a grey 48x48 npz, an unlabelled npy.

Tiny checkpoints are trained with `regae fit` for a few steps (conftest's ``own_data``) and put in
one folder with the slim MNIST test model, as a user's folder might hold them. Each is judged on
its own data (checked against that data read independently), and the app serves them all.
"""

from __future__ import annotations

import os
import re
import shutil

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from PIL import Image  # noqa: E402
from torchmetrics.image import PeakSignalNoiseRatio  # noqa: E402

from demo.draw import prepare, sketch_image  # noqa: E402
from demo.predictor import Predictor  # noqa: E402
from demo.views import cards_markdown, input_view, table_rows, zoom  # noqa: E402
from regae.checkpoints.read import load_data  # noqa: E402
from regae.data import load_dataset, to_float  # noqa: E402
from tests.support.demo import launch  # noqa: E402
from tests.support.owndata import RGB_CLASSES  # noqa: E402

UNTOUCHED = {"background": None, "layers": [], "composite": None}


def dataset(own, name):
    """The checkpoint's data, read here independently of the demo."""
    return load_data(own.model(name))


def pair_of_classes(data, first: int = 0, second: int = 1) -> tuple[int, int]:
    """Indices of the first test images of two classes."""
    labels = data.test.labels
    return int(torch.nonzero(labels == first)[0]), int(torch.nonzero(labels == second)[0])


def test_each_checkpoint_is_judged_on_its_own_data(own, own_data):
    cells, patches, noise, sparse = (own.loaded(n) for n in ("cells", "patches", "noise", "sparse"))
    assert cells.reference.spec == f"folder:{own_data.cells}" and cells.reference.name == "folder:cells"
    assert patches.reference.spec == f"npz:{own_data.patches}" and noise.reference.spec == f"npy:{own_data.noise}"
    assert (cells.frame.shape, cells.frame.colour, cells.frame.mnist) == ((3, 32, 32), True, False)
    assert (patches.frame.shape, patches.frame.mnist, patches.frame.dark_background) == ((1, 48, 48), False, True)
    assert (sparse.frame.shape, sparse.frame.mnist) == ((1, 28, 28), True)  # MNIST keeps MNIST's recipe
    # Class names are the dataset's: the folder's subfolders, the npz's labels.
    assert cells.insight.classifier.class_names == RGB_CLASSES == dataset(own, "cells").classes
    assert patches.insight.classifier.class_names == ("0", "1", "2")
    for name in ("cells", "patches"):
        m, data = own.loaded(name), dataset(own, name)
        assert m.insight.n_test == len(data.test.images) and m.insight.image_shape == data.shape
        x = to_float(data.test.images)  # (N, C, H, W), independently of the demo's batching
        with torch.no_grad():
            x_hat = m.model(x).x_hat
        assert m.insight.test_psnr == pytest.approx(PeakSignalNoiseRatio(data_range=1.0)(x_hat, x).item(), abs=1e-3)
    # Unlabelled: no classifier, no accuracy, a sentence saying so; the map is still there.
    assert noise.insight.classifier is None and noise.insight.accuracy is None
    assert "npy:noise.npy has no labels" in noise.insight.no_classes
    assert noise.insight.map.projection.basis.shape == (noise.model.latent_dim, 2)
    assert noise.insight.map.projection.kind == "PC" and noise.insight.separation is None  # no labels: PCA
    for m in (cells, patches, sparse):  # labelled: Fisher's linear discriminant, and how well it separates
        assert m.insight.map.projection.kind == "LD" and 0 <= m.insight.separation <= 1


@pytest.mark.parametrize("name", ["cells", "patches"])
def test_interpolation_between_two_test_images_of_its_dataset(own, name):
    data = dataset(own, name)
    i, j = pair_of_classes(data)
    x = to_float(data.test.images[[i, j]])  # (2, C, H, W)
    result = own.run(name, x[0].numpy(), x[1].numpy(), steps=5)
    c, h, w = data.shape
    assert torch.equal(result.inputs, x)  # (C, H, W) in, the same pixels through
    it = result.interpolation
    assert result.reconstructions.shape == (2, c, h, w) and it.pixel.shape == it.latent.shape == (5, c, h, w)
    torch.testing.assert_close(it.latent[0], result.reconstructions[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(it.latent[-1], result.reconstructions[1], atol=1e-5, rtol=0)
    assert torch.isinf(it.psnr[[0, -1]]).all() and (it.latent_dist[[0, -1]] == 0).all()
    # Classes are named by the dataset's class names, at both ends of both routes A's and B's.
    names = own.loaded(name).insight.classifier.class_names
    assert result.proba.shape == (2, len(data.classes)) and names == data.classes
    rows = table_rows(result, names)
    a, b = (names[k] for k in result.proba.argmax(1))
    assert rows[0][1:3] == [a, a] and rows[-1][1:3] == [b, b]
    assert {r[1] for r in rows} | {r[2] for r in rows} <= set(data.classes)
    # The map: both routes start at the code of A and end at the code of B (a plain forward pass each),
    # placed by the map's projection exactly where the routes end.
    model, projection = own.model(name), own.loaded(name).insight.map.projection
    with torch.no_grad():
        h = torch.cat([model.encode(x[k : k + 1]) for k in (0, 1)])  # (2, d), each alone
    torch.testing.assert_close(result.pixel_codes[[0, -1]], h, atol=1e-5, rtol=0)
    for points in (result.pixel_points, result.latent_points):
        np.testing.assert_allclose(points[[0, -1]], projection.project(result.pixel_codes[[0, -1]].numpy()),
                                   rtol=1e-12, atol=1e-12)  # the same float64 arithmetic, rows in another batch


def test_cards_and_input_lines_show_each_dataset_and_input_size(own):
    cards = cards_markdown(own.checkpoint_dir, own, own.status())
    assert "| `cells` | folder:cells, 3x32x32 colour |" in cards
    assert "| `patches` | npz:patches.npz, 1x48x48 grey |" in cards
    assert "| `noise` | npy:noise.npy, 1x16x16 grey |" in cards and "— (no labels)" in cards
    assert "| `sparse` | MNIST, 1x28x28 grey |" in cards
    assert "each checkpoint's own test images (" in cards and "npy:noise.npy has no labels" in cards
    # the input shape is the data's, shown in its column, not a difference from the preset
    assert "| ≈ `sparse` with widths=[4, 8, 8] |" in cards and "input_shape" not in cards
    cells = input_view("cells", own.loaded("cells"))
    assert not cells.draw and cells.seen_label == "32x32 colour" and cells.classes
    assert "takes **3x32x32 colour** images (folder:cells, 3 classes: blue, green, red)" in cells.note
    assert "upload two images" in cells.note and cells.pick == "Random folder:cells test pair"
    patches = input_view("patches", own.loaded("patches"))
    assert patches.draw and patches.noun == "Image" and "whole canvas is resized to 48x48" in patches.note
    sparse = input_view("sparse", own.loaded("sparse"))
    assert (sparse.draw, sparse.noun, sparse.seen_label) == (True, "Digit", "28x28")
    assert sparse.pick == "Random MNIST test pair"
    noise = input_view("noise", own.loaded("noise"))
    assert not noise.classes and "no labels" in noise.note


def test_checkpoints_whose_data_cannot_be_read_are_unusable_with_the_reason(own_data, tmp_path):
    ckpt = torch.load(own_data.folder / "cells.ckpt", weights_only=True)
    ckpt["ImageDataModule"]["record"]["dataset"] = f"folder:{tmp_path / 'moved-away'}"  # regae.data.record
    torch.save(ckpt, tmp_path / "moved.ckpt")
    del ckpt["ImageDataModule"]  # as checkpoints older than datasets: MNIST only if 1x28x28
    torch.save(ckpt, tmp_path / "unrecorded.ckpt")
    shutil.copy(own_data.folder / "patches.ckpt", tmp_path / "patches.ckpt")
    status = Predictor(tmp_path).status()
    assert status["patches"] is None  # the others do not stop it
    assert status["moved"].startswith("the data moved was trained on cannot be read: ")
    assert "moved-away" in status["moved"]
    assert "does not say which dataset its 3x32x32 model was trained on" in status["unrecorded"]


@pytest.fixture(scope="module")
def app(own):
    demo = launch(own)
    yield Client(demo.local_url, verbose=False, download_files=os.environ["GRADIO_TEMP_DIR"])
    demo.close()


def rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_rgb_upload_round_trips_in_colour(own, app, tmp_path):
    """Two test images uploaded as PNG files: the model sees exactly their pixels, in colour."""
    data = dataset(own, "cells")
    i, j = pair_of_classes(data, 2, 0)  # a red disc and a blue one
    files = []
    for k in (i, j):
        files.append(tmp_path / f"{k}.png")
        Image.fromarray(data.test.images[k].permute(1, 2, 0).numpy()).save(files[-1])
    out = app.predict("cells", UNTOUCHED, UNTOUCHED, 5, handle_file(str(files[0])), handle_file(str(files[1])),
                      api_name="/run")
    seen_a, seen_b, recon_a, _, class_a, _, strips, _, table, timing = out
    for path, k in ((seen_a, i), (seen_b, j)):  # 32x32 at x5, every pixel as in the dataset
        want = zoom(data.test.images[k].permute(1, 2, 0).numpy() / 255.0, 5)
        np.testing.assert_array_equal(rgb(path), want)
    red, blue = rgb(seen_a).reshape(-1, 3).mean(0), rgb(seen_b).reshape(-1, 3).mean(0)
    assert red[0] > red[2] + 20 and blue[2] > blue[0] + 20  # colour, not grey
    assert rgb(recon_a).shape == (160, 160, 3)
    assert rgb(strips).shape == (2 * 128 + 3 * 4, 5 * 128 + 6 * 4, 3)  # 32 px at x4 per tile
    assert class_a["label"] in RGB_CLASSES and all(r[1] in RGB_CLASSES for r in table["data"])
    assert "5 steps" in timing


def test_random_pair_comes_from_the_models_own_test_split(own, own_data, app):
    # colour: two test images of different classes, exactly, in the image boxes
    data = dataset(own, "cells")
    _, _, photo_a, photo_b, note = app.predict("cells", api_name="/random_pair")
    found = re.findall(r"#(\d+) \(label (\w+)\)", note)
    assert note.startswith("folder:cells test images #") and len(found) == 2 and found[0][1] != found[1][1]
    for path, (k, label) in zip((photo_a, photo_b), found):
        np.testing.assert_array_equal(rgb(path), data.test.images[int(k)].permute(1, 2, 0).numpy())
        assert RGB_CLASSES[int(data.test.labels[int(k)])] == label
    # grey 48x48: on the canvases, stretched over them; prepared, they are those test images again
    data, frame = dataset(own, "patches"), own.loaded("patches").frame
    canvas_a, canvas_b, _, _, note = app.predict("patches", api_name="/random_pair")
    found = re.findall(r"#(\d+) \(label (\w+)\)", note)
    assert note.startswith("npz:patches.npz test images #") and found[0][1] != found[1][1]
    for value, (k, _) in zip((canvas_a, canvas_b), found):
        composite = np.asarray(Image.open(value["composite"]).convert("RGBA"))
        back = prepare(sketch_image(composite), frame).image
        assert back.shape == (48, 48)
        assert np.abs(back - data.test.images[int(k)].numpy() / 255.0).mean() < 0.005  # measured 0.002
    # unlabelled: two different images
    _, _, _, _, note = app.predict("noise", api_name="/random_pair")
    i, j = (int(k) for k in re.findall(r"#(\d+)", note))
    assert note.endswith("(no labels).") and i != j
    assert max(i, j) < len(load_dataset(f"npy:{own_data.noise}").test.images)


def test_unlabelled_checkpoint_runs_without_classes(app, tmp_path):
    img = np.full((280, 280, 4), 255, dtype=np.uint8)
    img[40:240, 120:160, :3] = 0
    Image.fromarray(img).save(tmp_path / "bar.png")
    bar = {"background": None, "layers": [], "composite": handle_file(str(tmp_path / "bar.png"))}
    out = app.predict("noise", bar, UNTOUCHED, 4, None, None, api_name="/live")
    assert "image A only (draw B for the interpolation)" in out[-1] and not out[4]
    seen_a, _, _, _, class_a, class_b, strips, _, table, timing = app.predict("noise", bar, bar, 4, api_name="/run")
    assert np.asarray(Image.open(seen_a).convert("L")).shape == (16 * 10, 16 * 10)  # 16x16 at x10
    assert not class_a and not class_b  # no classes to show
    assert [r[1:3] for r in table["data"]] == [["—", "—"]] * 4 and "4 steps" in timing
    assert np.asarray(Image.open(strips).convert("L")).shape == (2 * 112 + 12, 4 * 112 + 20)  # x7 tiles

"""Canvas/upload -> what a model sees (demo.draw): MNIST-style 28x28 checked against MNIST's own statistics,
other frames against the data layer's resize and PIL's luma."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from demo.draw import (
    MNIST_FRAME,
    Frame,
    InputImageError,
    centre_of_mass,
    for_canvas,
    frame_for,
    ink,
    prepare,
    read_upload,
    sketch_image,
    to_gray,
)
from regae.data import load_split


def canvas(rows: slice, cols: slice, side: int = 280) -> np.ndarray:
    """An RGBA canvas as the browser sends it: opaque white, black ink in [rows, cols]."""
    img = np.full((side, side, 4), 255, dtype=np.uint8)
    img[rows, cols, :3] = 0
    return img


def extent(v: np.ndarray) -> tuple[int, int]:
    r, c = np.flatnonzero(v.any(1)), np.flatnonzero(v.any(0))
    return r[-1] - r[0] + 1, c[-1] - c[0] + 1


def test_horizontal_bar_lands_centred_with_longest_side_20():
    out = prepare(canvas(slice(30, 60), slice(40, 240))).image  # a 30 x 200 bar, top left of centre
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    h, w = extent(out)
    assert w == 20 and h == 3  # 200 -> 20, 30 -> 3 (aspect kept)
    r, c = centre_of_mass(out)
    assert abs(r - 14) <= 1 and abs(c - 14) <= 1
    assert out[14, 14] > 0.9  # the bar runs through the middle


def test_vertical_bar_like_a_one():
    out = prepare(canvas(slice(10, 250), slice(200, 224))).image  # 240 tall, 24 wide
    assert extent(out) == (20, 2)
    r, c = centre_of_mass(out)
    assert abs(r - 14) <= 1 and abs(c - 14) <= 1


def test_white_on_black_and_black_on_white_give_the_same_digit():
    black_on_white = canvas(slice(50, 200), slice(100, 130))
    white_on_black = black_on_white.copy()
    white_on_black[..., :3] = 255 - white_on_black[..., :3]
    np.testing.assert_array_equal(prepare(black_on_white).image, prepare(white_on_black).image)


def test_transparent_png_is_flattened_on_white_not_black():
    opaque = canvas(slice(50, 200), slice(100, 130))
    transparent = np.zeros_like(opaque)  # RGB 0 under alpha 0, as browsers export
    transparent[50:200, 100:130] = (0, 0, 0, 255)
    np.testing.assert_array_equal(prepare(transparent).image, prepare(opaque).image)


def test_mnist_digits_round_trip_through_the_canvas():
    """An MNIST digit shown on the canvas (x10) and prepared again comes back as itself."""
    test = load_split("test")
    errors = []
    for i in range(20):
        digit = test.images[i].numpy() / 255.0
        back = prepare(for_canvas(test.images[i].numpy())).image
        assert max(extent(back)) == 20
        r, c = centre_of_mass(back)
        assert abs(r - 14) <= 1 and abs(c - 14) <= 1
        errors.append(np.abs(back - digit).mean())
    # Anti-aliased strokes are resampled twice (x10 nearest, then LANCZOS back to 20 px).
    assert np.mean(errors) < 0.015, errors  # measured 0.008; a 1 px shift alone gives 0.067


def test_empty_inputs_are_reported():
    with pytest.raises(InputImageError, match="empty"):
        prepare(np.full((280, 280, 4), 255, dtype=np.uint8))
    with pytest.raises(InputImageError, match="empty"):
        prepare(None)
    untouched = {"background": None, "layers": [], "composite": None}
    with pytest.raises(InputImageError, match="empty"):
        prepare(sketch_image(untouched))


def test_single_dot_is_scaled_up_with_a_note():
    result = prepare(canvas(slice(100, 108), slice(150, 158)))  # an 8x8 dot on 280x280
    assert result.note is not None and "8x8" in result.note
    assert extent(result.image) == (20, 20)
    assert prepare(canvas(slice(30, 60), slice(40, 240))).note is None


def test_lopsided_digit_is_clamped_inside_the_frame_not_wrapped():
    img = canvas(slice(100, 110), slice(40, 240))  # a thin bar...
    img[60:150, 200:240, :3] = 0  # ...with a heavy block at its right end: centre of mass far right
    out = prepare(img).image
    _, c = centre_of_mass(out)
    assert c > 14  # the exact centre would push the bar off the left edge: clamped at column 0
    cols = np.flatnonzero(out.any(0))
    assert cols[0] == 0 and cols[-1] == 19 and len(cols) == 20  # contiguous, nothing wrapped round


def test_to_gray_uses_luma_and_rejects_odd_shapes():
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    rgb[0, 0] = (255, 0, 0)
    assert to_gray(rgb)[0, 0] == pytest.approx(0.299, abs=1e-6)
    with pytest.raises(InputImageError, match="shape"):
        to_gray(np.zeros((4, 4, 2)))
    with pytest.raises(InputImageError, match="shape"):
        to_gray(np.zeros((2, 2, 2, 2)))


def test_ink_thresholds_faint_haze():
    gray = np.full((10, 10), 0.95)  # light background with 5 % haze
    gray[2:5, 2:5] = 0.0
    v = ink(gray)
    assert v.sum() == pytest.approx(9.0)


def test_read_upload_accepts_images_and_refuses_the_rest(tmp_path):
    good = tmp_path / "digit.png"
    Image.fromarray(canvas(slice(50, 200), slice(100, 130))).save(good)
    arr = read_upload(good)
    assert arr.shape == (280, 280, 4) and arr.dtype == np.uint8

    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    with pytest.raises(InputImageError, match="not an image"):
        read_upload(text)

    huge = tmp_path / "huge.png"
    Image.new("L", (6000, 5000), 255).save(huge)  # 30 megapixels, a small file
    with pytest.raises(InputImageError, match="too large: 6000x5000"):
        read_upload(huge)

    heavy = tmp_path / "heavy.png"
    with open(heavy, "wb") as f:
        f.truncate(11 * 2**20)
    with pytest.raises(InputImageError, match="too large: 11.0 MB"):
        read_upload(heavy)

    with pytest.raises(InputImageError, match="not readable"):
        read_upload(tmp_path / "missing.png")


def test_for_canvas_shows_mnist_black_on_white_at_canvas_size():
    digit = load_split("test").images[0].numpy()
    shown = for_canvas(digit)
    assert shown.shape == (280, 280, 3) and shown.dtype == np.uint8
    np.testing.assert_array_equal(shown[::10, ::10, 0], 255 - digit)  # x10 nearest, inverted


# Frames other than MNIST's: the whole image resized as the data layer resizes folders.


def test_grey_frames_resize_the_whole_image_in_the_datas_polarity():
    img = canvas(slice(20, 100), slice(30, 130))  # black ink in the top left of a white canvas
    ink_map = ((255.0 - img[..., 0]) / 255).astype(np.float32)
    want = np.asarray(Image.fromarray(ink_map).resize((48, 48), Image.BOX))  # the mean under each pixel
    dark = prepare(img, Frame((1, 48, 48), mnist=False, dark_background=True))
    assert dark.note is None and dark.image.shape == (48, 48)
    np.testing.assert_allclose(dark.image, np.clip(want, 0, 1), atol=1e-6)  # bright ink, where it was drawn
    assert dark.image[10, 12] == pytest.approx(1.0) and dark.image[40, 40] == 0  # not re-centred
    bright = prepare(img, Frame((1, 48, 48), mnist=False, dark_background=False))
    np.testing.assert_allclose(bright.image, 1 - dark.image, atol=1e-6)  # dark ink on bright, as that data
    with pytest.raises(InputImageError, match="empty"):
        prepare(np.full((280, 280, 4), 255, dtype=np.uint8), Frame((1, 48, 48), mnist=False))


def test_colour_frames_keep_colour_and_repeat_grey():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    out = prepare(photo, Frame((3, 32, 24), mnist=False)).image  # (3, H, W)
    want = np.asarray(Image.fromarray(photo).resize((24, 32), Image.BILINEAR))  # the data layer's resize
    np.testing.assert_array_equal(out, want.transpose(2, 0, 1) / np.float32(255))
    same = prepare(photo[:32, :24], Frame((3, 32, 24), mnist=False)).image  # right size: untouched
    np.testing.assert_array_equal(same, photo[:32, :24].transpose(2, 0, 1) / np.float32(255))
    grey = rng.integers(0, 256, (32, 24), dtype=np.uint8)
    out = prepare(grey, Frame((3, 32, 24), mnist=False)).image
    assert (out[0] == out[1]).all() and (out[1] == out[2]).all() and (out[0] == grey / np.float32(255)).all()
    clear = np.zeros((32, 24, 4), dtype=np.uint8)  # a transparent PNG is white, not black
    assert (prepare(clear, Frame((3, 32, 24), mnist=False)).image == 1).all()


def test_colour_uploads_to_grey_models_use_pils_luma():
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    photo[:30] = (230, 240, 250)  # a bright background: kept bright for bright data
    out = prepare(photo, Frame((1, 40, 40), mnist=False, dark_background=False)).image
    luma = np.asarray(Image.fromarray(photo).convert("L")) / 255.0  # ITU-R 601, as the data layer reads colour
    assert np.abs(out - luma).max() <= 1 / 255 + 1e-6  # PIL rounds to integers


def test_frames_follow_the_model_and_its_data():
    dark, bright = np.zeros((5, 8, 8), np.uint8), np.full((5, 8, 8), 250, np.uint8)
    assert frame_for((1, 28, 28), "mnist", dark) == MNIST_FRAME
    assert frame_for((1, 28, 28), "idx", dark).mnist  # the MNIST format, made the same way
    assert not frame_for((1, 28, 28), "fashion-mnist", dark).mnist  # fills its frame: resized whole
    assert not frame_for((1, 48, 48), "npz", dark).mnist
    assert not frame_for((1, 48, 48), "folder", bright).dark_background
    f = frame_for((3, 32, 32), "folder", bright)
    assert f.colour and f.describe() == "3x32x32 colour" and MNIST_FRAME.describe() == "1x28x28 grey"
    with pytest.raises(InputImageError, match="not 2 channels"):
        frame_for((2, 8, 8), "npz", dark)


def test_dataset_images_round_trip_through_a_filled_canvas():
    """A 48x48 image stretched over the canvas and prepared again comes back as itself."""
    from tests.support.owndata import blob_images

    images = blob_images(10, (48, 48), 1, 1, seed=3)  # bright discs on a dim noisy background
    frame = Frame((1, 48, 48), mnist=False, dark_background=True)
    errors = [np.abs(prepare(for_canvas(im, fill=True), frame).image - im / 255.0).mean() for im in images]
    assert np.mean(errors) < 0.005, errors  # measured 0.0018 (bilinear down: 0.022); x5.8 nearest, then down


def test_colour_jpeg_uploads_stay_in_colour(tmp_path):
    red = np.zeros((64, 64, 3), dtype=np.uint8)
    red[..., 0] = 220
    Image.fromarray(red).save(tmp_path / "red.jpg", quality=95)
    colour = read_upload(tmp_path / "red.jpg", colour=True)
    assert colour.shape == (64, 64, 4) and colour[..., 0].mean() > 200 and colour[..., 1].mean() < 20

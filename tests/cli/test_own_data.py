"""Your own data through `regae fit` (a few steps) and `regae.load`; bad data is one line, nothing written."""

from pathlib import Path

import pytest
import torch

import regae
from regae.checkpoints.read import load_data, read_checkpoint
from regae.data import load_dataset, to_float
from regae.data.ood import FASHION_CLASSES
from tests.support.helpers import TINY, run_cli
from tests.support.owndata import RGB_CLASSES, make_grey_npz, make_idx_folder, make_rgb_folder

REPO = Path(__file__).resolve().parents[2]


def fit(root, data_args, *extra, config="sparse", steps=3):
    code, _, err = run_cli(
        "fit", "--config", config, "--trainer.default_root_dir", str(root), "--trainer.max_steps", str(steps),
        *TINY, *data_args, *extra,
    )
    assert code == 0, err[-3000:]
    return root / "checkpoints" / "last.ckpt"


def check_checkpoint(ckpt, spec, shape, classes, arch):
    model = regae.load(ckpt)
    assert model.hparams.arch == arch and tuple(model.input_shape) == shape
    assert tuple(read_checkpoint(ckpt)["hyper_parameters"]["input_shape"]) == shape
    record = model.data_record
    assert record["dataset"] == spec and record["shape"] == list(shape) and record["classes"] == classes
    data = load_data(model)  # the dataset the checkpoint names, read again
    direct = load_dataset(spec, image_size=record["image_size"])
    assert torch.equal(data.test.images, direct.test.images) and data.shape == shape
    x = to_float(data.test.images[:3])  # (3, C, H, W)
    with torch.no_grad():
        out = model(x)
    assert out.x_hat.shape == (3, *shape) and out.h.shape == (3, model.latent_dim)
    assert 0 <= out.x_hat.min() and out.x_hat.max() <= 1
    return model


def test_rgb_folder_fit_and_load(tmp_path):
    root = make_rgb_folder(tmp_path / "cells", per_class=30)
    ckpt = fit(tmp_path / "run", ["--data.dataset", f"folder:{root}"], "--model.widths", "[4, 8, 8]")
    check_checkpoint(ckpt, f"folder:{root}", (3, 32, 32), list(RGB_CLASSES), "unet")


def test_grey_npz_48_fit_and_load_with_conv(tmp_path):
    path = make_grey_npz(tmp_path / "patches.npz", n=120, size=48)
    ckpt = fit(tmp_path / "run", ["--data.dataset", "npz", "--data.path", str(path)], config="conv-unpool")
    model = check_checkpoint(ckpt, f"npz:{path}", (1, 48, 48), ["0", "1", "2"], "conv")
    assert model.latent_dim == 16 * 6 * 6  # 48 -> 24 -> 12 -> 6


def test_resized_folder_and_npy_fit_with_mlp_and_contractive(tmp_path):
    root = make_rgb_folder(tmp_path / "big", per_class=8, size=40)
    ckpt = fit(tmp_path / "a", ["--data.dataset", f"folder:{root}", "--data.image_size", "[24, 20]"],
               config="undercomplete", steps=2)
    model = check_checkpoint(ckpt, f"folder:{root}", (3, 24, 20), list(RGB_CLASSES), "mlp")
    assert model.data_record["image_size"] == [24, 20]
    assert model.net.encoder[1].in_features == 3 * 24 * 20

    import numpy as np

    np.save(tmp_path / "x.npy", np.random.default_rng(0).integers(0, 256, (40, 16, 16), dtype=np.uint8))
    ckpt = fit(tmp_path / "b", ["--data.dataset", f"npy:{tmp_path / 'x.npy'}"], "--model.widths", "[4, 8]",
               config="contractive", steps=2)
    check_checkpoint(ckpt, f"npy:{tmp_path / 'x.npy'}", (1, 16, 16), None, "unet")


def test_idx_folder_fit_and_load(tmp_path):
    root = make_idx_folder(tmp_path / "idx", size=20)
    ckpt = fit(tmp_path / "run", ["--data.dataset", f"idx:{root}"], "--model.widths", "[4, 8, 8]")
    check_checkpoint(ckpt, f"idx:{root}", (1, 20, 20), ["0", "1", "2"], "unet")


def test_fashion_mnist_fit_and_load(tmp_path, fake_fashion):  # Debian's layout, generated (no system package)
    ckpt = fit(tmp_path / "run", ["--data.dataset", "fashion-mnist"], "--model.widths", "[4, 8, 8]")
    check_checkpoint(ckpt, "fashion-mnist", (1, 28, 28), list(FASHION_CLASSES), "unet")


def test_mnist_checkpoint_records_mnist_and_old_checkpoints_load_as_mnist(tmp_path):
    ckpt = fit(tmp_path / "run", [], "--model.widths", "[4, 8, 8]", steps=1)
    assert regae.load(ckpt).data_record["dataset"] == "mnist"
    old = regae.load(REPO / "tests/demo/checkpoints/contractive.ckpt")  # made before datasets: no shape, no record
    assert tuple(old.input_shape) == (1, 28, 28) and old.data_record is None
    assert load_data(old).spec == "mnist"


def bad_case(tmp_path, case):
    """(--data args, message) for one bad input."""
    import numpy as np
    from PIL import Image

    if case == "mixed_sizes":
        root = make_rgb_folder(tmp_path / "m", per_class=3)
        Image.new("RGB", (20, 32)).save(root / "red" / "odd.png")
        return [f"--data.dataset=folder:{root}"], "images differ in size"
    if case == "unreadable":
        root = make_rgb_folder(tmp_path / "u", per_class=3)
        (root / "blue" / "bad.jpg").write_bytes(b"not a jpeg at all")
        return [f"--data.dataset=folder:{root}"], f"first: {root / 'blue' / 'bad.jpg'}"
    if case == "empty":
        (tmp_path / "e").mkdir()
        return [f"--data.dataset=folder:{tmp_path / 'e'}"], "no images found"
    if case == "wrong_labels":
        np.savez(tmp_path / "w.npz", images=np.zeros((20, 8, 8), np.uint8), labels=np.zeros(21, int))
        return ["--data.dataset=npz", f"--data.path={tmp_path / 'w.npz'}"], "expected 20 labels"
    if case == "memory_cap":
        root = make_rgb_folder(tmp_path / "c", per_class=2)
        return [f"--data.dataset=folder:{root}", "--data.max_bytes=4096"], "more than the cap --data.max_bytes=4096"
    if case == "too_small":
        np.savez(tmp_path / "s.npz", images=np.zeros((20, 3, 3), np.uint8))
        return [f"--data.dataset=npz:{tmp_path / 's.npz'}"], "input 3x3 is too small for unet with 2 2x2 poolings"
    if case == "unknown_kind":
        return ["--data.dataset=cifar:/x"], "Expected `dataset` in"
    if case == "missing_folder":
        return [f"--data.dataset=folder:{tmp_path / 'nope'}"], "image folder not found"
    if case == "no_fashion":
        (tmp_path / "f").mkdir()
        return ["--data.dataset=fashion-mnist", f"--data.path={tmp_path / 'f'}"], "apt-get install -y dataset-fashion-mnist"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["mixed_sizes", "unreadable", "empty", "wrong_labels", "memory_cap", "too_small",
                                  "unknown_kind", "missing_folder", "no_fashion"])
def test_bad_data_is_one_line_and_nothing_is_written(tmp_path, case):
    data_args, message = bad_case(tmp_path, case)
    run = tmp_path / "run"
    code, _, err = run_cli("fit", "--config", "sparse", "--trainer.default_root_dir", str(run), *TINY, *data_args)
    errors = [line for line in err.splitlines() if line.startswith("regae: error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err[-2000:]
    assert message in errors[0]
    assert not run.exists()  # no run folder, no config.yaml, no checkpoint

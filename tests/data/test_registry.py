"""load_dataset: each form of "your own data" gives the pixels of its files, its labels and splits."""

import hashlib

import numpy as np
import pytest
import torch

from regae.data import ImageDataModule, MNISTDataModule, load_dataset, load_recorded, load_split, to_float
from regae.data.dataset import TEST_FRACTION
from regae.data.ood import FASHION_CLASSES, fashion_available, missing_fashion_message
from regae.errors import ConfigError, DataError
from tests.support.owndata import RGB_CLASSES, make_grey_npz, make_idx_folder, make_rgb_folder


def pil_chw(path) -> torch.Tensor:
    from PIL import Image

    with Image.open(path) as im:
        return torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1)


def digest(image: torch.Tensor) -> str:
    return hashlib.md5(image.contiguous().numpy().tobytes()).hexdigest()


def test_mnist_is_the_shipped_files_unchanged():
    data = load_dataset("mnist")
    train, test = load_split("train"), load_split("test")
    assert data.spec == "mnist" and data.shape == (1, 28, 28) and data.classes == tuple("0123456789")
    assert data.train.images is train.images and data.test.labels is test.labels  # (N, 28, 28), as before
    assert load_recorded(None).train.images is train.images  # old checkpoints: MNIST


def test_rgb_folder_with_class_subfolders(tmp_path):
    root = make_rgb_folder(tmp_path / "cells", per_class=14)
    data = load_dataset(f"folder:{root}")
    assert data.spec == f"folder:{root.resolve()}" and data.shape == (3, 32, 32)
    assert data.classes == RGB_CLASSES and data.train.images.dtype == torch.uint8
    n = 3 * 14
    n_test = round(n * TEST_FRACTION)
    assert (len(data.train.images), len(data.test.images)) == (n - n_test, n_test) == (36, 6)
    # every file exactly once, with its pixels (as PIL decodes them) and its folder's label
    files = {digest(pil_chw(p)): RGB_CLASSES.index(p.parent.name) for p in sorted(root.rglob("*.png"))}
    seen = {digest(img): int(y) for part in (data.train, data.test) for img, y in zip(*part)}
    assert seen == files
    again = load_dataset("folder", path=str(root))  # the same folder, the same tensors
    assert torch.equal(again.test.images, data.test.images) and torch.equal(again.train.labels, data.train.labels)


def test_folder_train_test_subfolders_are_the_splits(tmp_path):
    root = make_rgb_folder(tmp_path / "split", per_class=10, split=True, jpeg_every=3)
    data = load_dataset(f"folder:{root}")
    train_files = sorted((root / "train").rglob("*.*"))
    assert len(data.train.images) == len(train_files) == 24 and len(data.test.images) == 6
    for i in (0, 5, 23):  # sorted by class, then by name, as ImageFolder
        assert torch.equal(data.train.images[i], pil_chw(train_files[i]))
        assert data.train.labels[i] == RGB_CLASSES.index(train_files[i].parent.name)


def test_folder_resize_grey_and_unlabelled(tmp_path):
    from PIL import Image

    flat = tmp_path / "flat"
    flat.mkdir()
    rng = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (20 + i, 30), dtype=np.uint8), "L").save(flat / f"{i}.png")
    with pytest.raises(DataError, match=r"differ in size .*--data.image_size"):
        load_dataset(f"folder:{flat}")
    data = load_dataset(f"folder:{flat}", image_size=[16, 24])
    assert data.shape == (1, 16, 24) and data.classes is None and not data.labelled
    assert data.train.images.shape[1:] == (16, 24)  # grey is stored (N, H, W), like MNIST
    assert (data.train.labels == -1).all() and (data.test.labels == -1).all()
    with Image.open(flat / "0.png") as im:
        want = torch.from_numpy(np.asarray(im.resize((24, 16), Image.Resampling.BILINEAR)).copy())
    everything = torch.cat([data.train.images, data.test.images])
    assert any(torch.equal(img, want) for img in everything)  # bilinear, exactly PIL's
    rgb = load_dataset(f"folder:{flat}", image_size=8, channels=3)
    assert rgb.shape == (3, 8, 8) and torch.equal(rgb.train.images[:, 0], rgb.train.images[:, 2])


def test_folder_non_image_and_unreadable_files(tmp_path):
    root = make_rgb_folder(tmp_path / "f", per_class=5)
    (root / "red" / "notes.txt").write_text("not an image")
    (root / "README.md").write_text("next to the class folders")
    (root / "green" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    with pytest.raises(DataError, match=r"1 file\(s\) .* not readable images, first: .*green/broken.png"):
        load_dataset(f"folder:{root}")
    data = load_dataset(f"folder:{root}", skip_bad_files=True)
    assert (data.ignored, data.skipped) == (2, 1)
    assert len(data.train.images) + len(data.test.images) == 15


def test_truncated_image_fails_when_decoded(tmp_path):
    root = make_rgb_folder(tmp_path / "t", per_class=4)
    victim = root / "blue" / "0002.png"
    victim.write_bytes(victim.read_bytes()[:60])  # header intact, pixel data cut
    with pytest.raises(DataError, match=r"blue/0002.png"):
        load_dataset(f"folder:{root}")
    assert load_dataset(f"folder:{root}", skip_bad_files=True).skipped == 1


def test_grey_npz_and_channels_last_npz(tmp_path):
    path = make_grey_npz(tmp_path / "patches.npz", n=70, size=48, classes=3)
    data = load_dataset(f"npz:{path}")
    assert data.shape == (1, 48, 48) and data.classes == ("0", "1", "2")
    assert (len(data.train.images), len(data.test.images)) == (60, 10)
    with np.load(path) as f:
        by_digest = {digest(torch.from_numpy(img)): int(y) for img, y in zip(f["images"], f["labels"])}
    assert {digest(img): int(y) for img, y in zip(*data.train)}.items() <= by_digest.items()

    rgb = np.random.default_rng(1).integers(0, 256, (12, 5, 7, 3), dtype=np.uint8)
    np.savez(tmp_path / "rgb.npz", images=rgb[:9], test_images=rgb[9:], labels=np.arange(9) % 2,
             test_labels=np.array([0, 1, 1]), classes=np.array(["cat", "dog"]))
    data = load_dataset("npz", path=tmp_path / "rgb.npz")
    assert data.shape == (3, 5, 7) and data.classes == ("cat", "dog")
    assert torch.equal(data.train.images, torch.from_numpy(rgb[:9]).permute(0, 3, 1, 2))  # given split, kept
    assert data.test.labels.tolist() == [0, 1, 1]


def test_npy_is_unlabelled(tmp_path):
    array = np.random.default_rng(2).integers(0, 256, (14, 32, 32), dtype=np.uint8)
    np.save(tmp_path / "x.npy", array)
    data = load_dataset(f"npy:{tmp_path / 'x.npy'}")
    assert data.shape == (1, 32, 32) and data.classes is None and len(data.test.images) == 2


def test_idx_folder(tmp_path):
    root = make_idx_folder(tmp_path / "idx", n_train=30, n_test=9, size=20)
    data = load_dataset(f"idx:{root}")
    assert data.shape == (1, 20, 20) and data.classes == ("0", "1", "2")
    assert data.train.images.shape == (30, 20, 20) and data.test.labels.tolist() == [0, 1, 2] * 3


@pytest.mark.skipif(not fashion_available(), reason=missing_fashion_message())
def test_fashion_mnist():
    data = load_dataset("fashion-mnist")
    assert data.shape == (1, 28, 28) and data.classes == FASHION_CLASSES
    assert data.train.images.shape == (60_000, 28, 28) and torch.bincount(data.test.labels).tolist() == [1000] * 10


@pytest.mark.parametrize(
    "make, kwargs, error, message",
    [
        (None, {"dataset": "cifar"}, ConfigError, "Expected `dataset` in"),
        (None, {"dataset": "folder"}, ConfigError, "needs a path"),
        (None, {"dataset": "folder:/nonexistent/x"}, DataError, "image folder not found"),
        (None, {"dataset": "mnist", "image_size": 32}, ConfigError, "image folders only"),
        ("empty", {}, DataError, "no images found"),
        ("empty_class", {}, DataError, "class folder.* without images: zebra"),
        ("wrong_labels", {}, DataError, "expected 20 labels"),
        ("float_npz", {}, DataError, "dtype uint8"),
        ("no_images_key", {}, DataError, "no `images` array"),
        ("rgb", {"max_bytes": 9000}, DataError, r"need 9.0 KiB .* more than the cap --data.max_bytes=9000"),
        ("idx_missing", {}, DataError, "IDX file missing"),
        ("rgb", {"image_size": [0, 4]}, ConfigError, "image_size"),
    ],
)
def test_bad_inputs(tmp_path, make, kwargs, error, message):
    spec = kwargs.pop("dataset", None)
    if make == "empty":
        (tmp_path / "e").mkdir()
        spec = f"folder:{tmp_path / 'e'}"
    elif make == "empty_class":
        make_rgb_folder(tmp_path / "c", per_class=3)
        (tmp_path / "c" / "zebra").mkdir()
        spec = f"folder:{tmp_path / 'c'}"
    elif make == "wrong_labels":
        np.savez(tmp_path / "w.npz", images=np.zeros((20, 8, 8), np.uint8), labels=np.zeros(19, int))
        spec = f"npz:{tmp_path / 'w.npz'}"
    elif make == "float_npz":
        np.savez(tmp_path / "f.npz", images=np.zeros((20, 8, 8), np.float32))
        spec = f"npz:{tmp_path / 'f.npz'}"
    elif make == "no_images_key":
        np.savez(tmp_path / "k.npz", x=np.zeros((20, 8, 8), np.uint8))
        spec = f"npz:{tmp_path / 'k.npz'}"
    elif make == "rgb":
        spec = f"folder:{make_rgb_folder(tmp_path / 'r', per_class=1, size=32)}"  # 3 x 3x32x32 = 9 KiB
    elif make == "idx_missing":
        root = make_idx_folder(tmp_path / "i", n_train=6, n_test=3, size=4)
        (root / "t10k-labels-idx1-ubyte").unlink()
        spec = f"idx:{root}"
    with pytest.raises(error, match=message):
        load_dataset(spec, **kwargs)


def test_datamodule_shape_record_and_mnist_defaults(tmp_path):
    assert MNISTDataModule is ImageDataModule
    dm = ImageDataModule(limit_train=8)
    assert dm.input_shape == (1, 28, 28) and dm.val_size == 5000  # 1/12 of 60,000, as the old default
    root = make_rgb_folder(tmp_path / "rgb", per_class=12)
    dm = ImageDataModule(dataset=f"folder:{root}", batch_size=5)
    assert dm.input_shape == (3, 32, 32) and dm.val_size == 31 // 12
    assert dm.record() == {"dataset": f"folder:{root.resolve()}", "shape": [3, 32, 32],
                           "classes": list(RGB_CLASSES), "image_size": None, "channels": None}
    dm.setup("fit")
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (5, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    xv, _ = next(iter(dm.val_dataloader()))
    assert torch.equal(xv, dm.val[0][:5].float() / 255) and torch.equal(to_float(dm.val[0][:5]), xv)
    with pytest.raises(ConfigError, match=r"`val_size` in \[0, 31\)"):
        ImageDataModule(dataset=f"folder:{root}", val_size=31)
    with pytest.raises(ConfigError, match="`root` is MNIST's folder"):
        ImageDataModule(dataset=f"folder:{root}", root=str(root))

"""Fashion-MNIST (a generated stand-in here; Debian's package in ``nox -s data``), and the noise images."""

import gzip

import pytest
import torch

from regae.data.ood import (
    FASHION_DIR,
    fashion_available,
    gaussian_noise,
    load_fashion,
    missing_fashion_message,
    uniform_noise,
)
from regae.errors import DataError
from tests.conftest import FAKE_FASHION_PER_CLASS
from tests.support.helpers import write_idx

needs_real_fashion = pytest.mark.skipif(not fashion_available(), reason=missing_fashion_message())


def test_fashion_files_read_back_exactly(fashion_dir):
    gen = torch.Generator().manual_seed(7)  # the fixture's draws, in its order
    for split in ("train", "test"):
        n = 10 * FAKE_FASHION_PER_CLASS[split]
        expected = torch.randint(0, 256, (n, 28, 28), generator=gen, dtype=torch.uint8)
        got = load_fashion(split, str(fashion_dir))
        assert got.images.dtype == torch.uint8 and got.labels.dtype == torch.int64
        assert torch.equal(got.images, expected)
        assert torch.bincount(got.labels).tolist() == [FAKE_FASHION_PER_CLASS[split]] * 10


def test_default_folder_is_read_when_present(fake_fashion):
    assert fashion_available()
    assert load_fashion("test").images.shape == (10 * FAKE_FASHION_PER_CLASS["test"], 28, 28)


def test_images_that_are_not_28x28_are_refused(tmp_path):
    for prefix in ("train", "t10k"):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", torch.zeros(2, 32, 32, dtype=torch.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", torch.zeros(2, dtype=torch.uint8))
    with pytest.raises(DataError, match=r"\(2, 32, 32\).*not \(N, 28, 28\)"):
        load_fashion("test", str(tmp_path))


@pytest.mark.data
@needs_real_fashion
def test_fashion_test_split_shapes_and_class_counts():
    split = load_fashion("test")
    assert split.images.shape == (10_000, 28, 28) and split.images.dtype == torch.uint8
    assert split.labels.shape == (10_000,) and split.labels.dtype == torch.int64
    # Fashion-MNIST's test set has exactly 1,000 images of each of its 10 classes.
    assert torch.bincount(split.labels).tolist() == [1000] * 10
    # Real photographs of clothes: full 0..255 range, far brighter on average than MNIST (0.13).
    assert int(split.images.min()) == 0 and int(split.images.max()) == 255
    assert 0.25 < split.images.float().mean().item() / 255 < 0.35


@pytest.mark.data
@needs_real_fashion
def test_fashion_train_split_has_6000_per_class():
    split = load_fashion("train")
    assert split.images.shape == (60_000, 28, 28)
    assert torch.bincount(split.labels).tolist() == [6000] * 10


def test_missing_fashion_names_the_package(tmp_path):
    assert not fashion_available(tmp_path)
    with pytest.raises(DataError, match="apt-get install -y dataset-fashion-mnist"):
        load_fashion("test", str(tmp_path))


def test_bad_split_and_truncated_file(tmp_path):
    with pytest.raises(DataError, match="Expected split"):
        load_fashion("validation")
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        # header says 2 images of 28x28, but only 10 pixel bytes follow
        (tmp_path / name).write_bytes(gzip.compress(b"\x00\x00\x08\x03" + (2).to_bytes(4, "big")
                                                    + (28).to_bytes(4, "big") * 2 + bytes(10)))
    with pytest.raises(DataError, match="expected 1584 bytes"):
        load_fashion("test", str(tmp_path))


def test_uniform_noise_moments(rng):
    x = uniform_noise(2000, generator=rng)
    assert x.shape == (2000, 1, 28, 28)
    assert 0 <= x.min() and x.max() <= 1
    assert abs(x.mean().item() - 0.5) < 2e-3
    assert abs(x.var().item() - 1 / 12) < 2e-3


def test_gaussian_noise_moments_and_reproducibility():
    x = gaussian_noise(1000, mean=0.5, std=0.05, generator=torch.Generator().manual_seed(1))
    y = gaussian_noise(1000, mean=0.5, std=0.05, generator=torch.Generator().manual_seed(1))
    assert torch.equal(x, y)
    assert abs(x.mean().item() - 0.5) < 1e-3 and abs(x.std().item() - 0.05) < 1e-3
    clipped = gaussian_noise(1000, mean=0.0, std=1.0, generator=torch.Generator().manual_seed(2))
    # clip(N(0,1), 0, 1): P(value == 0) = P(Z <= 0) = 0.5
    assert abs((clipped == 0).float().mean().item() - 0.5) < 5e-3
    assert clipped.max() <= 1


def test_noise_validates_arguments():
    with pytest.raises(ValueError, match="Expected `n` >= 1, got 0"):
        uniform_noise(0)
    with pytest.raises(ValueError, match="Expected `std` > 0"):
        gaussian_noise(3, std=0.0)
    assert str(FASHION_DIR) == "/usr/share/datasets/fashion-mnist"

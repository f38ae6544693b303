"""The shipped MNIST matches the known figures; loader and corruptions behave."""

import gzip
import shutil

import pytest
import torch

from regae.data import Corruption, MNISTDataModule, TensorBatchLoader, gaussian, load_split, masking, salt_and_pepper
from regae.data.mnist import MNIST_DIR, read_idx
from regae.errors import ConfigError, DataError

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_train_split_known_figures():
    images, labels = load_split("train")
    assert images.shape == (60_000, 28, 28) and images.dtype == torch.uint8
    x = images.double() / 255
    assert x.mean().item() == pytest.approx(0.13066, abs=1e-5)
    assert x.std().item() == pytest.approx(0.30811, abs=1e-5)
    assert torch.bincount(labels, minlength=10).tolist() == TRAIN_COUNTS


def test_test_split_known_figures():
    images, labels = load_split("test")
    assert images.shape == (10_000, 28, 28)
    assert torch.bincount(labels, minlength=10).tolist() == TEST_COUNTS


def test_corrupt_file_is_named(tmp_path):
    for f in MNIST_DIR.glob("*.gz"):
        shutil.copy(f, tmp_path / f.name)
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(bad.read_bytes())
    data[100] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz has md5"):
        load_split("test", str(tmp_path))
    bad.unlink()
    with pytest.raises(DataError, match="missing: .*t10k-labels"):
        load_split("test", str(tmp_path))


def test_read_idx_rejects_truncated():
    raw = gzip.decompress((MNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert read_idx(raw).shape == (10_000,)
    with pytest.raises(DataError, match="expected 10008 bytes"):
        read_idx(raw[:-1])


def test_loader_batches_and_epoch_order():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1).expand(10, 28, 28).contiguous()
    labels = torch.arange(10)
    loader = TensorBatchLoader(images, labels, batch_size=4, shuffle=True, seed=3)
    assert len(loader) == 3
    epoch0 = torch.cat([y for _, y in loader])
    epoch1 = torch.cat([y for _, y in loader])
    assert sorted(epoch0.tolist()) == list(range(10)) and sorted(epoch1.tolist()) == list(range(10))
    assert not torch.equal(epoch0, epoch1)  # a new order each epoch
    x, y = next(iter(TensorBatchLoader(images, labels, batch_size=4)))
    assert x.shape == (4, 1, 28, 28) and x.dtype == torch.float32
    assert torch.allclose(x[:, 0, 0, 0], y.float() / 255)


def test_loader_shards_are_disjoint_and_cover():
    images, labels = torch.zeros(10, 28, 28, dtype=torch.uint8), torch.arange(10)
    seen = [torch.cat([y for _, y in TensorBatchLoader(images, labels, 3, shuffle=True, rank=r, num_replicas=2)])
            for r in (0, 1)]
    assert len(seen[0]) == len(seen[1]) == 5
    assert sorted(torch.cat(seen).tolist()) == list(range(10))


def test_loader_resumes_mid_epoch():
    images, labels = torch.zeros(20, 28, 28, dtype=torch.uint8), torch.arange(20)
    full = TensorBatchLoader(images, labels, 4, shuffle=True, seed=1)
    reference = [y for _, y in full]
    part = TensorBatchLoader(images, labels, 4, shuffle=True, seed=1)
    it = iter(part)
    next(it), next(it)
    state = part.state_dict()
    resumed = TensorBatchLoader(images, labels, 4, shuffle=True, seed=1)
    resumed.load_state_dict(state)
    rest = [y for _, y in resumed]
    assert [t.tolist() for t in rest] == [t.tolist() for t in reference[state["position"]:]]


def test_a_loader_restarted_at_an_epoch_end_takes_the_next_epoch_s_order():
    """Lightning restores no loader state from a checkpoint saved at an epoch's end: it only calls
    ``loader.sampler.set_epoch(e)``. The loader must then give epoch e's order, not epoch 0's (it did)."""
    from lightning.fabric.utilities.data import _set_sampler_epoch

    images, labels = torch.zeros(20, 28, 28, dtype=torch.uint8), torch.arange(20)
    straight = TensorBatchLoader(images, labels, 4, shuffle=True, seed=1)
    epochs = []
    for e in range(3):
        _set_sampler_epoch(straight, e)
        epochs.append([y.tolist() for _, y in straight])
    assert epochs[0] != epochs[2]
    fresh = TensorBatchLoader(images, labels, 4, shuffle=True, seed=1)  # a new process, resuming at epoch 2
    _set_sampler_epoch(fresh, 2)
    assert [y.tolist() for _, y in fresh] == epochs[2]
    mid = TensorBatchLoader(images, labels, 4, shuffle=True, seed=1)
    mid.load_state_dict({"epoch": 1, "position": 2, "seed": 1})
    _set_sampler_epoch(mid, 1)  # the epoch under way: its position stays
    assert [y.tolist() for _, y in mid] == epochs[1][2:]


def test_datamodule_split_is_fixed_by_seed():
    dm = MNISTDataModule(batch_size=64, val_size=1000, split_seed=7)
    dm.setup()
    assert len(dm.train[0]) == 59_000 and len(dm.val[0]) == 1000 and len(dm.test[0]) == 10_000
    dm2 = MNISTDataModule(val_size=1000, split_seed=7)
    dm2.setup()
    assert torch.equal(dm.val[1], dm2.val[1])
    dm3 = MNISTDataModule(val_size=1000, split_seed=8)
    dm3.setup()
    assert not torch.equal(dm.val[1], dm3.val[1])


def test_datamodule_validates():
    with pytest.raises(ConfigError, match="batch_size"):
        MNISTDataModule(batch_size=0)
    with pytest.raises(ConfigError, match="val_size"):
        MNISTDataModule(val_size=60_000)


def test_gaussian_statistics(rng):
    x = torch.full((20_000,), 0.5)
    y = gaussian(x, 0.1, rng)
    assert (y - x).std().item() == pytest.approx(0.1, rel=0.03)
    assert y.min() >= 0 and y.max() <= 1


def test_salt_and_pepper_rates(rng):
    x = torch.full((100_000,), 0.5)
    y = salt_and_pepper(x, 0.2, rng)
    assert (y == 0).float().mean().item() == pytest.approx(0.1, abs=0.005)
    assert (y == 1).float().mean().item() == pytest.approx(0.1, abs=0.005)
    assert (y == 0.5).float().mean().item() == pytest.approx(0.8, abs=0.005)


def test_masking_rate(rng):
    y = masking(torch.ones(100_000), 0.3, rng)
    assert (y == 0).float().mean().item() == pytest.approx(0.3, abs=0.005)


def test_corruption_parse_and_validate():
    c = Corruption.parse("gaussian:0.5")
    assert (c.kind, c.level, str(c)) == ("gaussian", 0.5, "gaussian:0.5")
    with pytest.raises(ConfigError, match="corruption kind"):
        Corruption.parse("blur:1")
    with pytest.raises(ConfigError, match="salt_and_pepper level"):
        Corruption.parse("salt_and_pepper:1.5")
    with pytest.raises(ConfigError, match="kind:level"):
        Corruption.parse("gaussian")

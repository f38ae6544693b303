import os
from pathlib import Path

import pytest
import torch

from tests.support.helpers import write_idx

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(0)


#: images per class in the generated Fashion-MNIST stand-in (real: 6,000 train / 1,000 test)
FAKE_FASHION_PER_CLASS = {"train": 6, "test": 3}


@pytest.fixture(scope="session")
def fashion_dir(tmp_path_factory) -> Path:
    """A small Fashion-MNIST in Debian's layout (four gzipped IDX files): random 28x28 uint8
    images, labels 0..9 cycling, so unit tests need no system package."""
    folder = tmp_path_factory.mktemp("fashion-mnist")
    gen = torch.Generator().manual_seed(7)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        n = 10 * FAKE_FASHION_PER_CLASS[split]
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", torch.randint(0, 256, (n, 28, 28), generator=gen,
                                                                           dtype=torch.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", (torch.arange(n) % 10).to(torch.uint8))
    return folder


@pytest.fixture
def fake_fashion(fashion_dir, monkeypatch) -> Path:
    """Code that reads Fashion-MNIST from its default place reads :func:`fashion_dir` instead."""
    from regae.data import ood

    ood.load_fashion.cache_clear()
    monkeypatch.setattr(ood, "FASHION_DIR", fashion_dir)
    yield fashion_dir
    ood.load_fashion.cache_clear()

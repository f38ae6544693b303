import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """The study's models are small: one intra-op thread is fastest, and on a busy machine far
    faster than several (OpenMP threads that wait on each other spin)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

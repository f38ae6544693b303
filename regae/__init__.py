"""regae: regularized autoencoders in PyTorch Lightning."""

__version__ = "0.1.0"

from regae.checkpoint import load, read_checkpoint  # noqa: E402
from regae.data import Corruption, MNISTDataModule, load_split  # noqa: E402
from regae.errors import CheckpointError, ConfigError, DataError, NonFiniteLossError, RegaeError  # noqa: E402
from regae.module import AutoEncoder  # noqa: E402
from regae.nets import AEOutput, build_net  # noqa: E402

__all__ = [
    "AEOutput", "AutoEncoder", "CheckpointError", "ConfigError", "Corruption", "DataError",
    "MNISTDataModule", "NonFiniteLossError", "RegaeError", "__version__", "build_net", "load",
    "load_split", "read_checkpoint",
]

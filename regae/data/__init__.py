"""Data: the shipped MNIST, in-memory batches, input corruptions."""

from regae.data.corrupt import Corruption, gaussian, masking, salt_and_pepper
from regae.data.datamodule import MNISTDataModule
from regae.data.loader import TensorBatchLoader
from regae.data.mnist import load_split, to_float

__all__ = [
    "Corruption", "MNISTDataModule", "TensorBatchLoader", "gaussian", "load_split",
    "masking", "salt_and_pepper", "to_float",
]

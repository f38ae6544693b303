"""Data: datasets held in memory (shipped MNIST, IDX, image folders, NumPy), batches, corruptions."""

from regae.data.corrupt import Corruption, gaussian, masking, salt_and_pepper
from regae.data.datamodule import ImageDataModule, MNISTDataModule
from regae.data.dataset import ImageDataset, Split, to_float
from regae.data.loader import TensorBatchLoader
from regae.data.mnist import load_split
from regae.data.registry import DataSpec, load_dataset, load_recorded

__all__ = [
    "Corruption", "DataSpec", "ImageDataModule", "ImageDataset", "MNISTDataModule", "Split",
    "TensorBatchLoader", "gaussian", "load_dataset", "load_recorded", "load_split", "masking",
    "salt_and_pepper", "to_float",
]

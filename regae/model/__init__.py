"""The model: the AutoEncoder LightningModule and what it is built from and run with.

* :mod:`~regae.model.autoencoder` — ``AutoEncoder`` (loss + weighted regularizers, PSNR on val/test);
* :mod:`~regae.model.optimizers`, :mod:`~regae.model.schedule` — optimizers and learning-rate schedules;
* :mod:`~regae.model.layout` — channels-last memory layout for conv nets on a CPU;
* :mod:`~regae.model.inference` — the one batched encode / reconstruct path, and PSNR.
"""

from regae.model.autoencoder import AutoEncoder
from regae.model.inference import encode, per_image_mse, psnr, psnr_from_mse, reconstruct

__all__ = ["AutoEncoder", "encode", "per_image_mse", "psnr", "psnr_from_mse", "reconstruct"]

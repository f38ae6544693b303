"""Two small MLP autoencoders (sparse, contractive) trained for a few steps, saved as regae checkpoints."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch

from regae import AutoEncoder, MNISTDataModule

# A sigmoid latent under the contractive penalty saturates in the first hundred steps (σ' -> 0
# makes ‖∂h/∂x‖ small), so the tiny contractive AE uses a linear latent.
MODELS = {
    "sparse": {"regularizers": [{"name": "kl", "weight": 1e-3, "rho": 0.05}], "latent_activation": "sigmoid"},
    "contractive": {"regularizers": [{"name": "contractive", "weight": 1e-4, "mode": "exact"}],
                    "latent_activation": "none"},
}


def train_tiny(path, options, steps: int = 80, seed: int = 0):
    pl.seed_everything(seed, verbose=False)
    model = AutoEncoder(arch="mlp", widths=[128], latent_dim=16, lr=1e-3, history_every=5, **options)
    data = MNISTDataModule(batch_size=64, limit_train=1280, limit_test=256, val_size=256)
    trainer = pl.Trainer(max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, datamodule=data)
    trainer.save_checkpoint(path)
    return path


@pytest.fixture(scope="session")
def ckpts(tmp_path_factory) -> dict[str, str]:
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("analysis-ckpts")
    return {name: str(train_tiny(folder / f"{name}.ckpt", opts)) for name, opts in MODELS.items()}


@pytest.fixture(scope="session")
def sparse_seed1(tmp_path_factory) -> str:
    """The sparse AE again with training seed 1 (a second seed for the statistics over seeds)."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("analysis-ckpts-seed1")
    return str(train_tiny(folder / "sparse-seed1.ckpt", {**MODELS["sparse"], "seed": 1}, seed=1))

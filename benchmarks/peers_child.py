"""One training run for bench_peers.py, in its own process: regae or pythae, or a contention probe.

    python benchmarks/peers_child.py OUT.json fit regae|regae-bf16|pythae MODEL EPOCHS [--limit N]
    python benchmarks/peers_child.py OUT.json steps regae|regae-env|torch NET STEPS

Only the standard library is imported at the top: OpenMP reads its settings when torch loads,
so a run "with regae's defaults" must let :func:`regae.threads.policy.configure_threads` act first,
exactly as the ``regae`` command does, and a run "with torch's defaults" must not.

``fit`` trains one of :data:`MODELS` for EPOCHS epochs on all 60,000 training images:
regae through its own command-line path (``regae.cli.run_trainer_cli``: the same Trainer,
progress bar, logger and checkpointing as ``regae fit``), pythae through its ``BaseTrainer``
with the *same* regae net (same initial weights) wrapped in pythae's encoder/decoder classes.
Both take the same batch size, Adam learning rate and epochs. It writes the training time
(wall and process CPU, from the first to the last batch's epoch, setup excluded on both sides)
and the test MSE measured by :func:`test_mse`, the same code for both. ``regae-bf16`` is regae
with ``--trainer.precision bf16-mixed`` (bfloat16 autocast on the CPU; pythae's ``amp`` is CUDA
only); its test MSE is measured in float32 like the others.

``steps`` runs a regae training step (Lightning, as ``regae fit`` does) for STEPS steps and
writes the median step wall time, for the contention measurement: ``regae`` as the ``regae``
command runs (its wait policy chosen as it starts, and :class:`regae.training.core_share.CoreShare` choosing
the thread count), ``regae-env`` with CoreShare but the OpenMP settings given in the
environment, ``torch`` with neither. With ``$BENCH_NEIGHBOUR`` set (Python code) the child
starts that neighbour itself after the warm-up steps, waits 3 s and times the steps after that:
a neighbour that arrives while regae trains, which the wait policy chosen at the start cannot see.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

#: model -> (regae preset, extra regae options, pythae model); the nets and losses both libraries share
MODELS = {
    "ae": ("undercomplete", [], "AE"),  # MLP 784-512-256-128-30 / 30-128-256-784, MSE, Adam 3e-4, batch 256
    "vae": ("study-vae", [], "VAE"),  # 784-512-256-(32, 32) / 32-256-512-784, BCE + KL, Adam 1e-3, batch 128
    # 3x3 convs 8/16/16 + max-pool / transposed convs, BCE, Adam 1e-3, batch 128. pythae's decoder
    # gets the code alone (no pool indices), hence the transposed-conv decoder; pythae's AE trains
    # on MSE only, under which this net's output goes black in both libraries: see AEWithBCE
    "conv": ("conv-deconv", [], "AE"),
}
TRAIN_IMAGES = 60_000


def preset(name: str) -> dict:
    import yaml

    from regae.configs import presets

    return yaml.safe_load(presets()[name].read_text())


def test_mse(net) -> float:
    """Mean squared error per pixel on the 10,000 test images, deterministic code (eval mode)."""
    import torch

    from regae import load_split

    test = load_split("test")
    net.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(test.images), 1000):
            x = test.images[i : i + 1000].unsqueeze(1).float() / 255
            total += float((net(x).x_hat - x).pow(2).sum())
    return total / (len(test.images) * 784)


def fit_regae(model: str, epochs: int, limit: int | None, precision: str = "32-true") -> dict:
    from regae.threads.policy import configure_threads

    configure_threads()  # what the `regae` command does first
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import TQDMProgressBar

    import regae
    from regae.configs import resolve_presets
    from regae.training.lightning_cli import run_trainer_cli

    class FitTimer(pl.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == 0:
                self.start = (time.perf_counter(), time.process_time())

        def on_train_end(self, trainer, pl_module):
            self.wall, self.cpu = time.perf_counter() - self.start[0], time.process_time() - self.start[1]

    timer = FitTimer()
    name, extra, _ = MODELS[model]
    with tempfile.TemporaryDirectory() as root:
        argv = ["fit", "--config", name, *extra, "--trainer.max_epochs", str(epochs), "--data.val_size", "0",
                "--trainer.limit_val_batches", "0", "--trainer.default_root_dir", root, "--trainer.precision", precision,
                *(["--data.limit_train", str(limit)] if limit else [])]
        # the CLI's own defaults (progress bar every 10 steps), plus the timer
        run_trainer_cli(resolve_presets(argv), {"callbacks": [TQDMProgressBar(refresh_rate=10), timer]})
        trained = regae.load(Path(root) / "checkpoints" / "last.ckpt")
    return {"wall": timer.wall, "cpu": timer.cpu, "test_mse": test_mse(trained.net)}


def fit_pythae(model: str, epochs: int, limit: int | None) -> dict:
    import torch
    import torch.nn.functional as F
    from pythae.data.datasets import BaseDataset
    from pythae.models import AE, VAE, AEConfig, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    import regae

    name, extra, kind = MODELS[model]
    cfg = preset(name)
    mk, batch = dict(cfg["model"]), cfg["data"]["batch_size"]
    torch.manual_seed(cfg.get("seed_everything", 0))  # regae builds its net right after seeding too
    net = regae.AutoEncoder(**mk).net

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = net.encoder

        def forward(self, x):
            if kind == "VAE":
                mu, logvar = self.net.stats(x)
                return ModelOutput(embedding=mu, log_covariance=logvar)
            return ModelOutput(embedding=self.net(x))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = net.decoder

        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z))

    class AEWithBCE(AE):
        """pythae's AE with the per-sample summed BCE its VAE uses (``VAE.loss_function``)."""

        def loss_function(self, recon_x, x):
            flat = x.shape[0], -1
            return F.binary_cross_entropy(recon_x.reshape(flat), x.reshape(flat), reduction="none").sum(-1).mean()

    d = net.latent_dim
    if kind == "VAE":
        peer = VAE(VAEConfig(input_dim=(1, 28, 28), latent_dim=d, reconstruction_loss=mk["loss"]), Encoder(), Decoder())
    else:
        cls = AEWithBCE if mk.get("loss", "mse") == "bce" else AE
        peer = cls(AEConfig(input_dim=(1, 28, 28), latent_dim=d), Encoder(), Decoder())
    train = regae.load_split("train")
    n = limit or len(train.images)
    data = BaseDataset(train.images[:n].unsqueeze(1).float() / 255, train.labels[:n])
    with tempfile.TemporaryDirectory() as root:
        config = BaseTrainerConfig(output_dir=root, num_epochs=epochs, learning_rate=mk.get("lr", 1e-3),
                                   per_device_train_batch_size=batch, per_device_eval_batch_size=batch,
                                   optimizer_cls="Adam", no_cuda=True, seed=0)
        trainer = BaseTrainer(peer, train_dataset=data, training_config=config)
        start = (time.perf_counter(), time.process_time())
        trainer.train()
        wall, cpu = time.perf_counter() - start[0], time.process_time() - start[1]
    return {"wall": wall, "cpu": cpu, "test_mse": test_mse(net)}


def steps(defaults: str, net: str, n: int) -> dict:
    """Median wall time of a regae training step (``regae fit``'s Trainer, no progress bar), and
    the thread count most of the timed steps ran on."""
    if defaults == "regae":
        from regae.threads.policy import configure_threads

        configure_threads()
    import lightning.pytorch as pl
    import torch

    from regae import AutoEncoder, MNISTDataModule
    from regae.training.core_share import CoreShare

    class StepTimer(pl.Callback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.threads: list[int] = []

        def on_train_batch_start(self, *args):
            self.t0 = time.perf_counter()

        def on_train_batch_end(self, *args):
            self.times.append(time.perf_counter() - self.t0)
            self.threads.append(torch.get_num_threads())
            if len(self.times) == warm and os.environ.get("BENCH_NEIGHBOUR"):
                import subprocess

                env = {k: v for k, v in os.environ.items() if k != "BENCH_NEIGHBOUR"}
                self.neighbour = subprocess.Popen([sys.executable, "-c", os.environ["BENCH_NEIGHBOUR"]], env=env,
                                                  start_new_session=True)
                time.sleep(3.0)  # it imports torch (1-2 s on a shared machine) and spins

        def teardown(self, *args, **kwargs):
            if getattr(self, "neighbour", None):
                self.neighbour.kill()
                self.neighbour.wait()

    kwargs = {"mlp": dict(arch="mlp", widths=[512, 256, 128], latent_dim=30, decoder_widths=[128, 256],
                          latent_activation="none", lr=3e-4),
              "unet": dict(arch="unet", latent_dim=32, regularizers=[{"name": "kl", "weight": 1e-3, "rho": 0.05}])}[net]
    torch.manual_seed(0)
    timer = StepTimer()
    warm = 3
    trainer = pl.Trainer(max_steps=n + warm, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0,
                         callbacks=[timer] if defaults == "torch" else [CoreShare(), timer])
    trainer.fit(AutoEncoder(**kwargs), MNISTDataModule(batch_size=128, val_size=0, limit_train=128 * (n + warm)))
    times = sorted(timer.times[warm:])
    return {"median": times[len(times) // 2], "threads": statistics.mode(timer.threads[warm:]),
            "env": {k: v for k, v in os.environ.items() if k.startswith(("OMP_", "GOMP_", "KMP_"))}}


def main(argv: list[str]) -> None:
    out, mode, who, what, amount = argv[:5]
    limit = int(argv[argv.index("--limit") + 1]) if "--limit" in argv else None
    if mode == "fit":
        if who == "pythae":
            result = fit_pythae(what, int(amount), limit)
        else:
            result = fit_regae(what, int(amount), limit, "bf16-mixed" if who == "regae-bf16" else "32-true")
        result["images"] = (limit or TRAIN_IMAGES) * int(amount)
    else:
        result = steps(who, what, int(amount))
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])

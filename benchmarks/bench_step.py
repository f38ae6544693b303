"""Where a regae training step's time goes: compute (forward, backward, optimizer) vs the rest.

For the undercomplete MLP AE (784-512-256-128-30, batch 256) and the VAE (``study-vae``,
batch 128), in one process, interleaved rounds, the median per-step time of:

* ``compute``: the step's math alone: ``AutoEncoder._shared_step`` (forward + loss),
  ``backward``, the optimizer step regae uses, ``zero_grad``, in a plain Python loop over
  regae's loader;
* ``regae``: the same model trained by a Lightning ``Trainer`` set up as ``regae fit`` sets it
  up (progress bar refreshed every 10 steps, CSV logger, checkpoint callback), timed from
  the 6th to the last batch by a callback;
* ``before``: the same Trainer with the step as it was before issue #13: torch's default
  (for-loop) Adam, ``self.log`` on every step, the VAE's KL from a second encoder pass;
* ``compute (loop Adam)``: the compute loop with the for-loop Adam.

Target: compute / regae ≥ 0.9 for the MLP (the step is ≥ 90 % compute).

    python benchmarks/bench_step.py [--steps 60] [--repeats 3] [--clock wall --threads 2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
from pathlib import Path

import lightning.pytorch as pl
import torch
import yaml
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Result, Settings, add_arguments, clock_fn, describe, report, settings  # noqa: E402

from regae import AutoEncoder, MNISTDataModule  # noqa: E402
from regae.cli import presets  # noqa: E402
from regae.module import OPTIMIZERS  # noqa: E402
from regae.resume import RegaeCheckpoint  # noqa: E402

MODELS = {"ae": "undercomplete", "vae": "study-vae"}
WARM = 5


class Before(AutoEncoder):
    """The training step as it was before issue #13 (for the 'before' column)."""

    def configure_optimizers(self):
        return OPTIMIZERS[self.hparams.optimizer](self.parameters(), lr=self.hparams.lr)

    def _logs_written_this_step(self) -> bool:
        return True

    def _shared_step(self, batch, stage):
        x, _ = batch
        regs = self.regularizers if stage == "train" else []
        out = self.net(x)
        terms = {"recon": self.reconstruction_loss(out.x_hat, x)}
        loss = terms["recon"]
        for reg in regs:  # reg(...) runs the VAE's encoder again through model.posterior(x)
            terms[f"reg/{reg.name}"] = reg(self.net, x, out.h, None)
            loss = loss + reg.weight * terms[f"reg/{reg.name}"]
        terms["loss"] = loss
        return loss, out, terms


class StepClock(pl.Callback):
    """Clock from the start of batch WARM to the end of the last batch."""

    def __init__(self, now) -> None:
        self.now, self.start, self.end, self.n = now, 0.0, 0.0, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == WARM:
            self.start = self.now()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.end, self.n = self.now(), trainer.global_step - WARM


def model_options(name: str) -> tuple[dict, int]:
    cfg = yaml.safe_load(presets()[MODELS[name]].read_text())
    return cfg["model"], cfg["data"]["batch_size"]


def lightning_steps(cls: type[AutoEncoder], name: str, steps: int, s: Settings) -> float:
    options, batch = model_options(name)
    torch.manual_seed(0)
    clock = StepClock(clock_fn(s))
    with tempfile.TemporaryDirectory() as root, contextlib.redirect_stderr(io.StringIO()), \
            contextlib.redirect_stdout(io.StringIO()):  # the bar still renders, to a buffer
        trainer = pl.Trainer(
            max_steps=WARM + steps, default_root_dir=root, logger=CSVLogger(root), limit_val_batches=0,
            callbacks=[TQDMProgressBar(refresh_rate=10), RegaeCheckpoint(dirpath=root, save_last=True), clock],
            enable_model_summary=False, num_sanity_val_steps=0,
        )
        trainer.fit(cls(**options), MNISTDataModule(batch_size=batch, val_size=0))
    return (clock.end - clock.start) / clock.n


def compute_steps(name: str, steps: int, s: Settings, fast_optimizer: bool) -> float:
    options, batch = model_options(name)
    torch.manual_seed(0)
    model = AutoEncoder(**options)
    opt = model.configure_optimizers() if fast_optimizer else torch.optim.Adam(model.parameters(), lr=model.hparams.lr)
    dm = MNISTDataModule(batch_size=batch, val_size=0)
    dm.setup("fit")
    batches = iter(dm.train_dataloader())
    now = clock_fn(s)
    for i in range(WARM + steps):
        if i == WARM:
            start = now()
        loss, _, _ = model._shared_step(next(batches), "train")
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return (now() - start) / steps


def run(s: Settings, steps: int) -> list[Result]:
    results = []
    for name in MODELS:
        variants = {
            "compute": lambda n=name: compute_steps(n, steps, s, True),
            "regae": lambda n=name: lightning_steps(AutoEncoder, n, steps, s),
            "before": lambda n=name: lightning_steps(Before, n, steps, s),
            "compute (loop Adam)": lambda n=name: compute_steps(n, steps, s, False),
        }
        times: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(s.repeats):
            for k, fn in variants.items():
                times[k].append(fn())
        t = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        detail = (f"ms/step: compute {t['compute']:.2f}, regae {t['regae']:.2f} (other {t['regae'] - t['compute']:.2f}); "
                  f"before: {t['before']:.2f}, of which compute {t['compute (loop Adam)']:.2f}; {describe(s)}")
        preset = MODELS[name]
        results += [
            Result(f"step: {name} ({preset}) compute share of regae's step", t["compute"] / t["regae"],
                   0.9 if name == "ae" else None, ">=", detail),
            Result(f"step: {name} ({preset}) regae step before / now", t["before"] / t["regae"], None),
        ]
    return results


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--steps", type=int, default=60, help="timed steps per run (after 5 warm-up steps)")
    args = parser.parse_args(argv)
    s = settings(args)
    if s.device.type != "cpu":
        results = [Result("step: compute share", None, skipped="CPU benchmark (run without --device)")]
    else:
        results = run(s, 10 if s.quick else args.steps)
    report(results)
    return results


if __name__ == "__main__":
    main()

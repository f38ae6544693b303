"""Where a regae training step's time goes: compute (forward, backward, optimizer) vs the rest.

For the undercomplete MLP AE (784-512-256-128-30, batch 256) and the VAE (``study-vae``,
batch 128), in one process, interleaved rounds, the median per-step time of:

* ``compute``: the step's math alone, in a plain Python loop over regae's loader, each phase
  clocked: forward + loss (``_shared_step``), ``backward``, optimizer step + ``zero_grad``;
* ``step``: the same model trained by a Lightning ``Trainer`` set up as ``regae fit`` sets it
  up (progress bar refreshed every 10 steps, CSV logger, checkpoint callback), timed from
  the 6th to the last batch by a callback; step - compute is everything else (Lightning's
  loop and hooks, logging, progress bar, host syncs);

each *now* and *before* issue #13 (torch's default for-loop Adam, ``self.log`` on every step,
the VAE's KL from a second encoder pass: :class:`Before`).

Target: compute / step ≥ 0.9 for the MLP (the step is ≥ 90 % compute).

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
from regae.configs import presets  # noqa: E402
from regae.model.optimizers import OPTIMIZERS  # noqa: E402
from regae.training.checkpointing import RegaeCheckpoint  # noqa: E402

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


def compute_steps(cls: type[AutoEncoder], name: str, steps: int, s: Settings) -> dict[str, float]:
    """Seconds per step of each phase of the bare loop: forward, backward, optimizer, total."""
    options, batch = model_options(name)
    torch.manual_seed(0)
    model = cls(**options)
    opt = model.configure_optimizers()
    dm = MNISTDataModule(batch_size=batch, val_size=0)
    dm.setup("fit")
    batches = iter(dm.train_dataloader())
    now = clock_fn(s)
    spent = {"forward": 0.0, "backward": 0.0, "optimizer": 0.0}
    for i in range(WARM + steps):
        if i == WARM:
            spent = dict.fromkeys(spent, 0.0)
            start = now()
        t0 = now()
        loss, _, _ = model._shared_step(next(batches), "train")
        t1 = now()
        loss.backward()
        t2 = now()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t3 = now()
        spent["forward"] += t1 - t0
        spent["backward"] += t2 - t1
        spent["optimizer"] += t3 - t2
    return {**{k: v / steps for k, v in spent.items()}, "total": (now() - start) / steps}


def run(s: Settings, steps: int) -> list[Result]:
    results = []
    for name in MODELS:
        runs: dict[str, list] = {"compute now": [], "step now": [], "compute before": [], "step before": []}
        for _ in range(s.repeats):
            runs["compute now"].append(compute_steps(AutoEncoder, name, steps, s))
            runs["step now"].append(lightning_steps(AutoEncoder, name, steps, s))
            runs["compute before"].append(compute_steps(Before, name, steps, s))
            runs["step before"].append(lightning_steps(Before, name, steps, s))
        ms = {}
        for when in ("now", "before"):
            phases = {k: statistics.median(r[k] for r in runs[f"compute {when}"]) * 1e3
                      for k in ("forward", "backward", "optimizer", "total")}
            step = statistics.median(runs[f"step {when}"]) * 1e3
            ms[when] = {**phases, "step": step, "rest": step - phases["total"]}
        detail = "; ".join(
            f"{when}: step {m['step']:.2f} ms = forward {m['forward']:.2f} + backward {m['backward']:.2f} + "
            f"optimizer {m['optimizer']:.2f} + rest {m['rest']:.2f}" for when, m in ms.items())
        preset = MODELS[name]
        results += [
            Result(f"step: {name} ({preset}) compute share of regae's step", ms["now"]["total"] / ms["now"]["step"],
                   0.9 if name == "ae" else None, ">=", f"{detail}; {describe(s)}"),
            Result(f"step: {name} ({preset}) compute share before issue #13",
                   ms["before"]["total"] / ms["before"]["step"], None),
            Result(f"step: {name} ({preset}) regae step before / now", ms["before"]["step"] / ms["now"]["step"], None),
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

"""One ``regae fit``, trained the way the command trains it, with a clock that stops it in time.

:func:`run_fit` parses ``regae fit`` arguments with regae's own parser
(:func:`regae.training.fit.build`: presets, the one Trainer builder, regae's callbacks), adds an
:class:`EpochClock`, fits and tests, as :func:`regae.training.fit.fit` does. The clock records
each epoch's seconds (validation included) and stops the fit at an epoch end when another
epoch would not fit in its allowance, so a 20-epoch run that cannot finish in the GPU lease
returns the epochs it ran, and :func:`benchmarks.gpu.budget.extrapolate_fit` scales them.

Run as a script it is the child process whose wall time is the user's number (start-up, imports,
data, fit and test included)::

    python benchmarks/gpu/fitrun.py --json RESULT.json --allowed-s 200 -- --config sparse --trainer.accelerator gpu
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before the imports: the child's wall time includes them

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

if __name__ == "__main__":  # a script: the repository replaces this folder on sys.path (no module here shadows another)
    sys.path[0] = str(Path(__file__).resolve().parents[2])
    from regae.threads.policy import configure_threads

    configure_threads()  # OpenMP's wait policy, before torch loads, as the `regae` command does

import lightning.pytorch as pl  # noqa: E402
from lightning.pytorch.callbacks import Callback  # noqa: E402

from benchmarks.gpu.budget import should_stop  # noqa: E402
from regae.checkpoints.write import atomic_write_json  # noqa: E402
from regae.training.fit import build  # noqa: E402
from regae.training.noise import third_party_noise  # noqa: E402


class EpochClock(Callback):
    """Times every epoch (start of training to the end of its validation) and stops the fit once another
    epoch of the mean length, plus ``reserve_s``, would end more than ``allowed_s`` after ``start``
    (a ``time.perf_counter`` value), or after ``stop_after`` epochs. Mid-epoch it stops only when the
    allowance is already spent (the first epoch alone too long)."""

    def __init__(self, allowed_s: float, start: float | None = None, stop_after: int | None = None,
                 reserve_s: float = 0.0) -> None:
        self.allowed_s, self.stop_after, self.reserve_s = allowed_s, stop_after, reserve_s
        self.start = time.perf_counter() if start is None else start
        self.epoch_s: list[float] = []
        self.fit_start = self.fit_end = 0.0
        self.steps_per_epoch = 0
        self.stopped_early = False
        self._epoch_start = 0.0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.fit_start = time.perf_counter()
        self.steps_per_epoch = int(trainer.num_training_batches)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if time.perf_counter() - self.start + self.reserve_s > self.allowed_s:
            self._stop(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        now = time.perf_counter()
        self.epoch_s.append(now - self._epoch_start)
        last = trainer.max_epochs is not None and trainer.current_epoch + 1 >= trainer.max_epochs
        if last:
            return
        if (self.stop_after is not None and len(self.epoch_s) >= self.stop_after) or should_stop(
                now - self.start, self.epoch_s, self.allowed_s, self.reserve_s):
            self._stop(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.fit_end = time.perf_counter()

    def _stop(self, trainer: pl.Trainer) -> None:
        trainer.should_stop = True
        self.stopped_early = True


def run_fit(fit_args: list[str], clock: EpochClock | None = None, keep_model: bool = False) -> dict[str, Any]:
    """Fit and test as ``regae fit <fit_args>`` does; the figures of the run (seconds, steps, test PSNR in dB)."""
    t0 = time.perf_counter()
    clock = clock or EpochClock(allowed_s=float("inf"), start=t0)
    with third_party_noise():
        cli = build(list(fit_args))
        trainer = cli.trainer
        trainer.callbacks.append(clock)
        trainer.fit(cli.model, datamodule=cli.datamodule)
        t_test = time.perf_counter()
        metrics = trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)
    end = time.perf_counter()
    psnr = metrics[0].get("test/psnr") if metrics else None
    ckpt = trainer.checkpoint_callback
    last = Path(ckpt.dirpath) / "last.ckpt" if ckpt is not None and getattr(ckpt, "dirpath", None) else None
    steps_per_epoch = max(1, clock.steps_per_epoch)
    out = {
        "global_step": int(trainer.global_step),
        "epochs_done": trainer.global_step / steps_per_epoch,  # fractional when stopped mid-epoch
        "max_epochs": trainer.max_epochs,
        "steps_per_epoch": steps_per_epoch,
        "epoch_s": clock.epoch_s,
        "fit_s": (clock.fit_end or t_test) - (clock.fit_start or t0),
        "test_s": end - t_test,
        "in_process_s": end - t0,
        "stopped_early": clock.stopped_early,
        "test_psnr_db": float(psnr) if psnr is not None else None,
        "checkpoint": str(last) if last is not None and last.is_file() else None,
        "device": str(cli.model.device),
    }
    if keep_model:
        out["model"] = cli.model
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cut = argv.index("--") if "--" in argv else len(argv)
    p = argparse.ArgumentParser(description="one regae fit with an epoch clock; its figures as JSON")
    p.add_argument("--json", type=Path, required=True, help="where the figures go")
    p.add_argument("--allowed-s", type=float, default=float("inf"), help="stop before this many seconds from start")
    p.add_argument("--stop-after", type=int, help="stop after this many epochs (the dry run's extrapolation)")
    p.add_argument("--reserve-s", type=float, default=0.0, help="seconds kept for the test after the fit")
    args = p.parse_args(argv[:cut])
    clock = EpochClock(args.allowed_s, start=STARTED, stop_after=args.stop_after, reserve_s=args.reserve_s)
    result = run_fit(argv[cut + 1 :], clock)
    result["child_s"] = time.perf_counter() - STARTED
    atomic_write_json(result, args.json)
    print(f"fitrun: {result['global_step']} steps, {len(result['epoch_s'])} epochs in {result['fit_s']:.1f} s, "
          f"test PSNR {result['test_psnr_db']} dB, {result['child_s']:.1f} s in all", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

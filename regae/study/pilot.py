"""Pilot learning curves: train one study net and write validation PSNR per epoch to a CSV.

The study's budgets (:mod:`regae.study.budgets`) were chosen from curves like these::

    python -m regae.study.pilot deep --epochs 40 --lr 1e-3 --batch 128 --out runs/pilot/deep.csv
    python -m regae.study.pilot hinton --pretrain 5 --epochs 50 --batch 64 --out hinton-pretrained.csv

The CSV's wall and CPU seconds count from the start, pre-training included.

Each row: epoch, train loss (mean over the epoch), validation loss and PSNR (on ``--val``
held-out training images), wall seconds and process CPU seconds since the start, and the
1-minute load average (wall times on a shared machine mean little without it).
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from regae.study import specs

    p = argparse.ArgumentParser(prog="python -m regae.study.pilot", description=__doc__.splitlines()[0])
    p.add_argument("spec", help=f"a spec name of regae.study.specs.PILOT_SPECS: {', '.join(specs.PILOT_SPECS)}")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--schedule", choices=("constant", "cosine"), default="cosine")
    p.add_argument("--warmup", type=float, default=0.02)
    p.add_argument("--loss", choices=("mse", "bce"), default=None, help="override the spec's loss")
    p.add_argument("--corrupt", default=None, help="train on corrupted inputs (a denoising criterion), e.g. gaussian:0.2")
    p.add_argument("--weight-decay", type=float, default=None, help="Adam's L2 weight decay")
    p.add_argument("--pretrain", type=int, default=0, metavar="EPOCHS",
                   help="greedy layer-wise pre-training first, EPOCHS per layer (regae.study.pretrain; MLP specs)")
    p.add_argument("--pretrain-lr", type=float, default=None,
                   help="Adam rate of the pre-training (default: --lr, the fine-tuning's)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--images", type=int, default=None, help="training images (default: all 55,000)")
    p.add_argument("--val", type=int, default=5000, help="validation images (default: 5000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="CSV file to write (one row per epoch, flushed)")
    args = p.parse_args(argv)

    import lightning.pytorch as pl

    from regae.data.datamodule import MNISTDataModule
    from regae.model.autoencoder import AutoEncoder
    from regae.study.runner import EpochRecorder, train_model
    from regae.threads.count import set_threads
    from regae.training.noise import third_party_noise

    set_threads(args.threads)
    spec = dict(specs.PILOT_SPECS[args.spec])
    if args.loss:
        spec["loss"] = args.loss
    if args.corrupt:
        spec["corrupt"] = args.corrupt
    if args.weight_decay is not None:
        spec["weight_decay"] = args.weight_decay
    pl.seed_everything(args.seed, verbose=False)
    model = AutoEncoder(seed=args.seed, lr=args.lr, lr_schedule=args.schedule, warmup=args.warmup, **spec)
    data = MNISTDataModule(batch_size=args.batch, limit_train=args.images, limit_test=args.val,
                           split_seed=0, shuffle_seed=args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    if args.pretrain:
        from regae.study.pretrain import pretrain_on

        pretrain_on(model.net, data, args.pretrain, args.pretrain_lr or args.lr, args.batch, args.seed,
                    lambda line: print(line, flush=True))

    class Writer(EpochRecorder):
        def on_train_epoch_end(self, trainer, pl_module) -> None:  # runs after the epoch's validation
            super().on_train_epoch_end(trainer, pl_module)
            with out.open("a", newline="") as f:
                csv.writer(f).writerow([trainer.current_epoch + 1, self.train[-1], self.val[-1], self.val_psnr[-1],
                                        round(time.perf_counter() - start_wall, 1),
                                        round(time.process_time() - start_cpu, 1), os.getloadavg()[0]])

    out.write_text("epoch,train_loss,val_loss,val_psnr,wall_s,cpu_s,load1\n")
    with third_party_noise():
        train_model(model, data, args.epochs, callbacks=[Writer()], indent="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

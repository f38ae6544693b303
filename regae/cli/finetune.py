"""``regae finetune --ckpt AE.ckpt``: its command line (the fine-tuning is :mod:`regae.analysis.finetune`).

Only argument parsing and the checks that need no torch happen here, so ``--help`` and option
errors answer at once. The ``--data.*`` options are ``regae fit``'s names for the same things.
"""

from __future__ import annotations

import argparse
import re
import shlex
import textwrap
import time
from pathlib import Path
from typing import Any

from regae.analysis.options import DEFAULT_LR, LR_SCHEDULES, FinetuneConfig, run_name
from regae.cli.parser import Parser
from regae.errors import UsageError

#: --data.NAME option (NAME: the ImageDataModule argument) -> help
DATA_OPTIONS = {
    "dataset": "mnist, fashion-mnist, idx:DIR, folder:DIR, npz:FILE (README, 'Your own data'); default: the dataset "
               "the checkpoint was trained on (MNIST for checkpoints older than data records)",
    "path": "the dataset's path, instead of KIND:PATH in --data.dataset; alone, the checkpoint's kind of dataset "
            "read from PATH (data that moved)",
    "image_size": "image folders: resize every image to N or [H, W]",
    "channels": "image folders: 1 (grey) or 3 (RGB)",
    "val_size": "training images held out for the per-epoch validation (default 1/12 of the training split)",
    "max_bytes": "refuse a dataset whose images need more memory than this (default 4 GiB)",
    "skip_bad_files": "image folders: skip unreadable images with a count instead of failing (true/false)",
}


def _image_size(text: str) -> int | list[int]:
    """'64' -> 64, '[24, 20]' or '24,20' -> [24, 20]."""
    m = re.fullmatch(r"\s*\[?\s*(\d+)\s*(?:,\s*(\d+)\s*)?\]?\s*", text)
    if m is None:
        raise argparse.ArgumentTypeError(f"expected N or [H, W], got {text!r}")
    return int(m[1]) if m[2] is None else [int(m[1]), int(m[2])]


def _bool(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() == "true"


def parser() -> Parser:
    d = FinetuneConfig()
    p = Parser(prog="regae finetune", formatter_class=argparse.RawDescriptionHelpFormatter,
               description=textwrap.fill(
                   "Supervised fine-tuning of a pre-trained autoencoder's encoder: the encoder plus a linear softmax "
                   "layer on its code, trained with cross-entropy on a labelled dataset (the checkpoint's, or "
                   "--data.*); prints the test accuracy and error with their 95 % intervals and writes "
                   "OUT/classifier.ckpt (weights only) and OUT/metrics.json.", 79),
               epilog="example:\n  regae finetune --ckpt docs/report-full/contractive.ckpt --epochs 2\n"
                      "  regae finetune --ckpt runs/cells/checkpoints/last.ckpt --freeze-encoder   # a linear probe")
    p.add_argument("--ckpt", required=True, type=Path, metavar="PATH", help="the autoencoder checkpoint")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="where classifier.ckpt and metrics.json go (default runs/finetune/NAME, NAME the checkpoint's "
                        "run folder or file name)")
    p.add_argument("--epochs", type=int, default=d.epochs, metavar="N",
                   help="passes over the training images (default %(default)s)")
    p.add_argument("--lr", type=float, metavar="RATE", help="learning rate (default: " + ", ".join(f"{k} {v:g}" for k, v in
                                                                              DEFAULT_LR.items()) + ")")
    p.add_argument("--optimizer", choices=list(DEFAULT_LR), default=d.optimizer, help="(default %(default)s)")
    p.add_argument("--momentum", type=float, default=d.momentum, metavar="M",
                   help="SGD's momentum (default %(default)s)")
    p.add_argument("--lr-schedule", choices=list(LR_SCHEDULES), default=d.lr_schedule,
                   help="constant, or a cosine decay to 0 over the run (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, metavar="N", help="(default %(default)s)")
    p.add_argument("--freeze-encoder", action="store_true",
                   help="train the softmax layer only: a linear probe of the codes")
    p.add_argument("--train-images", type=int, metavar="N", help="use the first N training images (default: all)")
    p.add_argument("--seed", type=int, default=d.seed, metavar="N", help="seed of the softmax layer and the batch order "
                                                            "(default %(default)s)")
    p.add_argument("--device", default=d.device, metavar="DEVICE", help="cpu, cuda, cuda:N or auto (default %(default)s)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="torch CPU threads (default: the cores other processes leave free, as regae fit)")
    g = p.add_argument_group("data (regae fit's --data.* names)")
    types = {"image_size": _image_size, "channels": int, "val_size": int, "max_bytes": int, "skip_bad_files": _bool}
    metavars = {"dataset": "SPEC", "path": "PATH", "image_size": "SIZE", "channels": "C", "val_size": "N",
                "max_bytes": "BYTES", "skip_bad_files": "BOOL"}
    for name, text in DATA_OPTIONS.items():
        g.add_argument(f"--data.{name}", dest=f"data_{name}", type=types.get(name, str), metavar=metavars[name],
                       help=text)
    return p


def data_options(args: argparse.Namespace) -> dict[str, Any]:
    """The --data.* options given, as ImageDataModule's keyword arguments."""
    return {name: getattr(args, f"data_{name}") for name in DATA_OPTIONS if getattr(args, f"data_{name}") is not None}


def finetune_main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    cfg = FinetuneConfig(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, optimizer=args.optimizer,
                         momentum=args.momentum, lr_schedule=args.lr_schedule, freeze_encoder=args.freeze_encoder,
                         train_images=args.train_images, seed=args.seed, device=args.device, threads=args.threads)
    if args.ckpt.is_dir():
        raise UsageError(f"regae finetune: --ckpt {args.ckpt} is a folder; name the checkpoint file "
                         "(e.g. runs/NAME/checkpoints/last.ckpt)")
    out = args.out or Path("runs/finetune") / run_name(args.ckpt)
    from regae.analysis.finetune import fine_tune  # torch loads here, after the options are checked

    t0 = time.perf_counter()
    done = fine_tune(args.ckpt, out, cfg, data_options(args), command=shlex.join(["regae", "finetune", *argv]))
    print(done.result_text())
    print(f"classifier written to {done.checkpoint}, metrics to {done.metrics} ({time.perf_counter() - t0:.0f} s)")
    return 0

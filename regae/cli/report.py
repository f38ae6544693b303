"""``regae report`` (analyse checkpoints) and ``regae compare`` (train sparse + contractive, then report): their command lines.

Only argument parsing happens here: training (:mod:`regae.analysis.compare`) and the analyses
(:mod:`regae.analysis.report`) load torch when a command runs, so ``--help`` and option errors
answer at once. ``--seeds N`` trains each AE N times (training seeds 0..N-1) and the report
averages and compares over them.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from regae.analysis.options import ReportConfig, parse_ckpt_args
from regae.checkpoints.write import check_writable
from regae.cli.parser import Parser
from regae.errors import ConfigError, UsageError


def _analysis_args(p: argparse.ArgumentParser) -> None:
    d = ReportConfig()
    g = p.add_argument_group("analysis sizes")
    g.add_argument("--tsne-images", type=int, default=d.n_tsne, help="test images in the t-SNE (default %(default)s)")
    g.add_argument("--pairs", type=int, default=d.n_pairs, help="interpolation pairs (default %(default)s)")
    g.add_argument("--probe-train", type=int, default=d.n_probe_train,
                   help="training images the classifiers are fitted on (default %(default)s: all of MNIST's; fewer is faster)")
    g.add_argument("--reg-images", type=int, default=d.n_reg,
                   help="test images for the regularizer values (default %(default)s)")
    g.add_argument("--seed", type=int, default=d.seed, help="seed of subsets and pairs (default %(default)s)")
    g.add_argument("--device", default=d.device, help="cpu, cuda, cuda:N or auto (default %(default)s)")


def _config(args: argparse.Namespace) -> ReportConfig:
    return ReportConfig(n_tsne=args.tsne_images, n_pairs=args.pairs, n_probe_train=args.probe_train,
                        n_reg=args.reg_images, seed=args.seed, device=args.device)


def report_main(argv: list[str]) -> int:
    """regae report --ckpt [NAME=]PATH [--ckpt ...] --out DIR"""
    p = Parser(prog="regae report", description="Analyse trained regae checkpoints: test PSNR, regularizers, "
                "loss curves, t-SNE, pixel vs latent interpolation, classifiers on the embeddings.")
    p.add_argument("--ckpt", action="append", required=True, metavar="[NAME=]PATH",
                   help="a regae checkpoint (repeat for several AEs; two or more adds the comparison)")
    p.add_argument("--out", type=Path, default=Path("report"), help="output folder (default %(default)s)")
    p.add_argument("--title", default="Regularized autoencoders compared")
    p.add_argument("--intro", metavar="TEXT|@FILE",
                   help="markdown put under the title (e.g. how the checkpoints were trained); @FILE reads it from FILE")
    _analysis_args(p)
    args = p.parse_args(argv)
    ckpts = parse_ckpt_args(args.ckpt)
    intro = args.intro or ""
    if intro.startswith("@"):
        try:
            intro = Path(intro[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"regae report: cannot read --intro file {intro[1:]}: {exc.strerror or exc}") from None
    cfg = _config(args)
    from regae.analysis.report import build_report  # torch and the analyses load here, after the options are checked

    if len(ckpts) == 1:
        print("regae report: one checkpoint: writing a single-AE report (give two --ckpt to compare AEs)")
    t0 = time.perf_counter()
    index = build_report(ckpts, args.out, cfg, title=args.title, intro=intro)
    print(f"report written to {index} ({time.perf_counter() - t0:.0f} s); also index.html and metrics.json")
    return 0


def split_data_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """(the rest, the ``--data.*`` options with their values) of ``argv``: the data options go to every fit."""
    rest, data, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--data."):
            takes_value = "=" not in arg and i + 1 < len(argv) and not argv[i + 1].startswith("--")
            data += argv[i : i + 2] if takes_value else [arg]
            i += 2 if takes_value else 1
            continue
        rest.append(arg)
        i += 1
    return rest, data


def compare_main(argv: list[str]) -> int:
    """regae compare [--full] [--epochs N] [--max-steps N] [--seeds N] [--data.* ...] [-- fit args...]"""
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    argv, data_args = split_data_args(argv)
    extra = data_args + extra
    p = Parser(prog="regae compare", description="Train the sparse and the contractive AE with `regae fit`, then "
                "write the comparison report. `--data.*` options (e.g. --data.dataset fashion-mnist, "
                "--data.dataset folder:PATH) and any arguments after `--` go to both `regae fit` commands.")
    p.add_argument("--out", type=Path, default=Path("report"), help="report folder (default %(default)s)")
    p.add_argument("--runs-dir", type=Path, default=Path("runs/compare"),
                   help="training runs go to RUNS_DIR/sparse and RUNS_DIR/contractive (default %(default)s)")
    p.add_argument("--full", action="store_true",
                   help="the seed hyperparameters as the presets have them: 20 epochs each, exact contractive "
                        "penalty (GPU / cluster; hours on a CPU)")
    p.add_argument("--epochs", type=int, help="train each AE for this many epochs (overrides the budget)")
    p.add_argument("--max-steps", type=int, help="stop each AE after this many optimizer steps")
    p.add_argument("--accelerator", help="passed to the trainer: cpu, gpu, auto, ...")
    p.add_argument("--devices", help="passed to the trainer, e.g. 1 or 2")
    p.add_argument("--seeds", type=int, default=1,
                   help="train each AE with this many training seeds (0..N-1) and report mean ± std and paired "
                        "tests over them (default %(default)s; N times the training time)")
    p.add_argument("--ckpt", action="append", metavar="[NAME=]PATH",
                   help="skip training and compare these checkpoints (two or more)")
    p.add_argument("--reuse", action="store_true", help="use checkpoints already in RUNS_DIR instead of training")
    p.add_argument("--overwrite", action="store_true", help="delete checkpoints already in RUNS_DIR and retrain")
    _analysis_args(p)
    args = p.parse_args(argv)
    cfg = _config(args)
    for flag in ("epochs", "max_steps", "seeds"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            raise ConfigError(f"Expected --{flag.replace('_', '-')} >= 1, got {getattr(args, flag)}.")
    from regae.analysis.report import build_report  # torch and the analyses load here, after the options are checked

    t0 = time.perf_counter()
    if args.ckpt is not None:
        ckpts = parse_ckpt_args(args.ckpt)
        if len(ckpts) < 2:
            raise UsageError(f"regae compare needs at least two checkpoints to compare, got {len(ckpts)} "
                             "(for a single-AE report use: regae report --ckpt PATH)")
        check_writable(args.out, "the report")
        index = build_report(ckpts, args.out, cfg)
    else:
        from regae.analysis.compare import budget_text, plan_runs, train

        runs = plan_runs(args.runs_dir, args.full, args.epochs, args.max_steps, args.accelerator, args.devices, extra,
                         args.seeds)
        check_writable(args.out, "the report")
        load0 = os.getloadavg()[0]
        train(runs, reuse=args.reuse, overwrite=args.overwrite)
        overridden = bool(extra) or args.epochs is not None or args.max_steps is not None
        intro = budget_text(runs, args.full, overridden) + (
            f"\nTraining took {time.perf_counter() - t0:.0f} s in all (wall clock, {os.cpu_count()} CPU cores, "
            f"load average {load0:.1f} at the start and {os.getloadavg()[0]:.1f} at the end).")
        groups: dict[str, list[Path]] = {}
        for r in runs:
            groups.setdefault(r.name, []).append(r.last)
        index = build_report(groups, args.out, cfg, intro=intro)
    print(f"report written to {index} ({time.perf_counter() - t0:.0f} s in all); also index.html and metrics.json")
    return 0

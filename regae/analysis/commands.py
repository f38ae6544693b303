"""``regae report`` (analyse checkpoints) and ``regae compare`` (train sparse + contractive, then report).

The default ``regae compare`` budget is sized for a 2-core CPU (about 20 minutes in all);
``--full`` trains with the seed hyperparameters (the ``sparse``/``contractive`` presets as
they are: 20 epochs each), meant for a GPU or a cluster node. ``--seeds N`` trains each AE
N times (training seeds 0..N-1) and the report averages and compares over them.

Only argument parsing happens at import: torch, Lightning and the analyses load when a
command runs, so ``--help`` and option errors answer at once.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from regae.analysis.options import ReportConfig, check_writable, parse_ckpt_args
from regae.errors import ConfigError, OutputError, RegaeError

#: name -> (preset of `--full`: the seed hyperparameters, preset of the CPU default).
PRESETS: dict[str, tuple[str, str]] = {
    "sparse": ("sparse", "sparse"),
    # the exact penalty costs 19x a plain step on a CPU (d = 32 VJPs); Hutchinson with one probe 1.6x, with the
    # smallest gradient error per cost and the best model after equal CPU time (benchmarks/README.md, "estimators")
    "contractive": ("contractive", "contractive-hutchinson"),
}
#: The CPU default, the same for both AEs: the seed's hyperparameters (U-Net 16/32/64, d = 32, batch 128,
#: Adam 1e-3) for CPU_EPOCHS epochs instead of 20, with the rate decayed to 0 by a cosine after a 2 % linear
#: warm-up (the seed keeps it constant over 20 epochs). Chosen from learning curves measured on 2 cores: the
#: constant rate gives validation PSNR 15.8 17.1 18.3 19.4 20.3 21.0 dB after epochs 1-6 of `sparse` (24.4 dB
#: test after 20); the cosine decay over the same 6 epochs 15.5 16.7 20.9 22.0 22.4 dB after epochs 1-5 and
#: 22.63 dB test PSNR after 6, against 21.05 (2026-11-30, one seed each; a decay from 2e-3 had reached 20.7 dB).
CPU_EPOCHS = 6
CPU_OVERRIDES = ["--trainer.max_epochs", str(CPU_EPOCHS), "--model.lr_schedule", "cosine", "--model.warmup", "0.02"]


class UsageError(RegaeError):
    """A command-line mistake in report/compare (printed as one line by the CLI)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line through the CLI, not argparse's exit(2) + usage dump
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


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
    p = _Parser(prog="regae report", description="Analyse trained regae checkpoints: test PSNR, regularizers, "
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
    from regae.analysis.report import build_report

    if len(ckpts) == 1:
        print("regae report: one checkpoint: writing a single-AE report (give two --ckpt to compare AEs)")
    t0 = time.perf_counter()
    index = build_report(ckpts, args.out, cfg, title=args.title, intro=intro)
    print(f"report written to {index} ({time.perf_counter() - t0:.0f} s); also index.html and metrics.json")
    return 0


@dataclass
class Run:
    name: str
    argv: list[str]
    root: Path
    seed: int = 0

    @property
    def last(self) -> Path:
        return self.root / "checkpoints" / "last.ckpt"


def plan_runs(runs_dir: Path, full: bool, epochs: int | None, max_steps: int | None, accelerator: str | None,
              devices: str | None, extra: list[str], seeds: int = 1) -> list[Run]:
    """The ``regae fit`` command lines: presets + budget overrides + passthrough arguments, per seed.

    Seed k sets the weights' initialisation, the batch order and the per-step noise
    (``--seed_everything k --model.seed k --data.shuffle_seed k``); the train/val split stays fixed.
    With one seed a run lives in ``RUNS_DIR/NAME``, with several in ``RUNS_DIR/NAME/seedK``.
    """
    runs = []
    for name, (full_preset, cpu_preset) in PRESETS.items():
        for seed in range(seeds):
            argv = ["fit", "--config", full_preset if full else cpu_preset]
            if not full:
                argv += CPU_OVERRIDES
            if epochs is not None:
                argv += ["--trainer.max_epochs", str(epochs)]
            if max_steps is not None:
                argv += ["--trainer.max_steps", str(max_steps)]
            if accelerator:
                argv += ["--trainer.accelerator", accelerator]
            if devices:
                argv += ["--trainer.devices", devices]
            if seeds > 1 or seed:
                argv += ["--seed_everything", str(seed), "--model.seed", str(seed), "--data.shuffle_seed", str(seed)]
            root = runs_dir / name / f"seed{seed}" if seeds > 1 else runs_dir / name
            runs.append(Run(name, argv + ["--trainer.default_root_dir", str(root)] + extra, root, seed))
    return runs


def budget_text(runs: list[Run], full: bool, overridden: bool = False) -> str:
    mode = ("`--full`: the seed hyperparameters (presets as they are, 20 epochs each)" if full else
            f"the default CPU budget: the seed's hyperparameters for {CPU_EPOCHS} epochs instead of 20, with the "
            "learning rate decayed to 0 by a cosine after a 2 % warm-up instead of kept constant, and the "
            "contractive penalty estimated with one Hutchinson probe "
            "(1.6x a plain step instead of 19x for the exact one; sized to finish in about 20 minutes on 2 CPU "
            "cores; `regae compare --full` trains the seed hyperparameters as they are)")
    if overridden:
        mode += ", changed by command-line overrides"
    cmds = "\n".join(f"    regae {' '.join(r.argv)}" for r in runs)
    return f"Trained by `regae compare` with {mode}. The training commands were:\n\n{cmds}\n"


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
    p = _Parser(prog="regae compare", description="Train the sparse and the contractive AE with `regae fit`, then "
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
    from regae.analysis.report import build_report

    t0 = time.perf_counter()
    if args.ckpt is not None:
        ckpts = parse_ckpt_args(args.ckpt)
        if len(ckpts) < 2:
            raise UsageError(f"regae compare needs at least two checkpoints to compare, got {len(ckpts)} "
                             "(for a single-AE report use: regae report --ckpt PATH)")
        check_writable(args.out)
        index = build_report(ckpts, args.out, cfg)
    else:
        runs = plan_runs(args.runs_dir, args.full, args.epochs, args.max_steps, args.accelerator, args.devices, extra,
                         args.seeds)
        check_writable(args.out)
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


def train(runs: list[Run], reuse: bool = False, overwrite: bool = False) -> None:
    """Run ``regae fit`` for each run in this process (skipping existing ones with ``reuse``)."""
    from regae.cli import main as regae_main

    if reuse and overwrite:
        raise UsageError("--reuse and --overwrite exclude each other")
    for k, run in enumerate(runs, 1):
        ckpt_dir = run.root / "checkpoints"
        if reuse and run.last.is_file():
            print(f"[compare {k}/{len(runs)}] {run.name}: reusing {run.last}")
            continue
        if ckpt_dir.exists() and any(ckpt_dir.glob("*.ckpt")):
            if not overwrite:
                raise OutputError(f"{ckpt_dir} already holds checkpoints; pass --reuse to report on them, "
                                  "--overwrite to retrain, or another --runs-dir")
            shutil.rmtree(ckpt_dir)
        check_writable(run.root)
        print(f"[compare {k}/{len(runs)}] training {run.name} (seed {run.seed}): regae {' '.join(run.argv)}", flush=True)
        t0 = time.perf_counter()
        try:
            code = regae_main(run.argv)
        except SystemExit as exc:  # jsonargparse exits on a bad passthrough argument
            code = exc.code if isinstance(exc.code, int) else 2
        if code != 0 or not run.last.is_file():
            raise TrainingFailed(f"training {run.name} failed (exit status {code}); see the messages above")
        print(f"[compare {k}/{len(runs)}] {run.name} trained in {time.perf_counter() - t0:.0f} s", flush=True)


class TrainingFailed(RegaeError):
    """One of the ``regae fit`` runs of ``regae compare`` did not produce a checkpoint."""

"""``regae compare``'s runs: planned from the presets and the budget, then trained in this process.

:func:`plan_runs` writes each run as the ``regae fit`` command line it is (preset + budget overrides
+ passthrough options, per training seed); :func:`train` resolves each with the ``regae fit`` parser
and trains it through :func:`regae.training.fit.fit`, i.e. with the one Trainer builder, so a
compare run is the run ``regae fit`` would train. The default budget is sized for a 2-core CPU
(about 20 minutes in all); ``--full`` trains with the seed hyperparameters (the
``sparse``/``contractive`` presets as they are: 20 epochs each), meant for a GPU or a cluster node.
How the CPU default was chosen (learning curves on 2 cores) is in benchmarks/README.md, "compare".
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from regae.checkpoints.write import check_writable
from regae.errors import OutputError, RegaeError, UsageError
from regae.training.fit import fit, resolve

#: name -> (preset of `--full`: the seed hyperparameters, preset of the CPU default).
PRESETS: dict[str, tuple[str, str]] = {
    "sparse": ("sparse", "sparse"),
    # the exact penalty costs 19x a plain step on a CPU (d = 32 VJPs); Hutchinson with one probe 1.6x, with the
    # smallest gradient error per cost and the best model after equal CPU time (benchmarks/README.md, "estimators")
    "contractive": ("contractive", "contractive-hutchinson"),
}
#: The CPU default, the same for both AEs: the seed's hyperparameters (U-Net 16/32/64, d = 32, batch 128,
#: Adam 1e-3) for CPU_EPOCHS epochs instead of 20, the rate decayed to 0 by a cosine after a 2 % linear warm-up
#: (the seed keeps it constant over 20 epochs); the learning curves it was chosen from: benchmarks/README.md.
CPU_EPOCHS = 6
CPU_OVERRIDES = ["--trainer.max_epochs", str(CPU_EPOCHS), "--model.lr_schedule", "cosine", "--model.warmup", "0.02"]


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


class TrainingFailed(RegaeError):
    """One of the runs of ``regae compare`` did not produce a checkpoint."""


def train(runs: list[Run], reuse: bool = False, overwrite: bool = False) -> None:
    """Train each run (skipping existing ones with ``reuse``); a config mistake in any run is found
    before the first one trains."""
    if reuse and overwrite:
        raise UsageError("--reuse and --overwrite exclude each other")
    configs = [resolve(run.argv[1:]) for run in runs]  # every run's options checked before any training
    for k, (run, config) in enumerate(zip(runs, configs), 1):
        ckpt_dir = run.root / "checkpoints"
        if reuse and run.last.is_file():
            print(f"[compare {k}/{len(runs)}] {run.name}: reusing {run.last}")
            continue
        if ckpt_dir.exists() and any(ckpt_dir.glob("*.ckpt")):
            if not overwrite:
                raise OutputError(f"{ckpt_dir} already holds checkpoints; pass --reuse to report on them, "
                                  "--overwrite to retrain, or another --runs-dir")
            shutil.rmtree(ckpt_dir)
        check_writable(run.root, "the training run")
        print(f"[compare {k}/{len(runs)}] training {run.name} (seed {run.seed}): regae {' '.join(run.argv)}", flush=True)
        t0 = time.perf_counter()
        result = fit(config)
        if result.interrupted:
            raise KeyboardInterrupt
        if result.checkpoint is None or not run.last.is_file():
            raise TrainingFailed(f"training {run.name} wrote no checkpoint at {run.last}; see the messages above")
        psnr = f", test PSNR {result.test_psnr:.2f} dB" if result.test_psnr is not None else ""
        print(f"[compare {k}/{len(runs)}] {run.name} trained in {time.perf_counter() - t0:.0f} s{psnr}", flush=True)

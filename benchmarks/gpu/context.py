"""What every stage of the GPU check gets: the device, the sizes, the deadline and a work folder.

:class:`Sizes` holds every size the check uses, once for the GPU (``FULL``) and once for the dry run
on a CPU (``QUICK``: a few steps on a few images, so that ``--device cpu --quick`` runs every stage in
well under two minutes on 2 cores and the code cannot rot unseen).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from benchmarks.gpu.budget import Deadline

ROOT = Path(__file__).resolve().parents[2]  # the repository


@dataclass(frozen=True)
class Sizes:
    correct_batch: int  # images in the CUDA-vs-CPU training steps
    correct_steps: int  # Adam steps compared
    probe_batch: int  # images in the Hutchinson expectation check
    probe_draws: int  # independent one-probe estimates averaged there
    fit_limit_train: int | None  # --data.limit_train of the short fits (None: all 55,000)
    fit_limit_test: int | None  # --data.limit_test of the short fits (None: all 10,000 test images)
    ckpt_steps: int  # steps of the tiny fit whose checkpoint is read on the CPU
    data_limit_train: int | None  # training images whose batches are compared (None: a whole epoch)
    precision_steps: int  # steps of the bf16-mixed vs fp32 fits
    ceiling_matmul: int  # n of the n x n x n bf16 matrix product
    ceiling_copy_mib: int  # MiB copied device to device
    step_batch: int  # batch of the timed steps (the seed's 128)
    big_batch: int  # the bigger batch tried for the kernel-time share
    min_timed_s: float  # each timed loop runs at least this long ...
    max_timed_steps: int  # ... and at most this many steps
    epochs: int  # the seed's epochs (sparse / contractive)
    fit_batch: int  # --data.batch_size of the user's fits
    stop_after_epochs: int | None  # the user's fits stop after this many epochs and extrapolate (dry run)
    sweep_batches: tuple[int, ...]  # batch sizes of the sweep; the first is the reference
    sweep_epochs: int  # epochs of each sweep fit
    report_args: tuple[str, ...] = field(default=())  # analysis sizes of the timed `regae compare` report
    compile_backend: str = "inductor"


FULL = Sizes(correct_batch=64, correct_steps=3, probe_batch=16, probe_draws=256, fit_limit_train=None,
             fit_limit_test=None, ckpt_steps=20, data_limit_train=None, precision_steps=300, ceiling_matmul=8192,
             ceiling_copy_mib=1024, step_batch=128, big_batch=1024, min_timed_s=1.0, max_timed_steps=500, epochs=20,
             fit_batch=128, stop_after_epochs=None, sweep_batches=(128, 2048, 512), sweep_epochs=2)
QUICK = Sizes(correct_batch=4, correct_steps=3, probe_batch=2, probe_draws=16, fit_limit_train=64, fit_limit_test=64,
              ckpt_steps=3, data_limit_train=512, precision_steps=4, ceiling_matmul=256, ceiling_copy_mib=8,
              step_batch=8, big_batch=32, min_timed_s=0.05, max_timed_steps=3, epochs=20, fit_batch=32,
              stop_after_epochs=2, sweep_batches=(8, 32, 16), sweep_epochs=1,
              report_args=("--tsne-images", "50", "--pairs", "2", "--probe-train", "200", "--reg-images", "4"),
              compile_backend="aot_eager")


@dataclass
class Context:
    device: torch.device  # where regae is checked and timed
    label: str  # the device as every figure names it
    sizes: Sizes
    deadline: Deadline
    work: Path  # scratch folder: runs, checkpoints, the report (not $OUT: only 8 files come back)
    quick: bool = False
    reserve_s: float = 0.0  # seconds the stages after the current one need at least
    dataset: str | None = None  # --data.dataset of the fits (the dry run: a small npz of MNIST digits)
    shared: dict[str, Any] = field(default_factory=dict)  # what a stage leaves for later ones

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def accelerator(self) -> str:
        """``--trainer.accelerator`` for this device."""
        return "gpu" if self.cuda else "cpu"

    def allowed(self, cap_s: float | None = None) -> float:
        """Seconds the current stage may use: what is left less what later stages need."""
        return self.deadline.allowed(self.reserve_s, cap_s)

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def data_args(self) -> list[str]:
        """``--data.*`` of the short fits: the dry run's small dataset and the limits."""
        s = self.sizes
        out = ["--data.dataset", self.dataset] if self.dataset else []
        if s.fit_limit_train is not None:
            out += ["--data.limit_train", str(s.fit_limit_train)]
        if s.fit_limit_test is not None:
            out += ["--data.limit_test", str(s.fit_limit_test)]
        return out

"""One ``regae reproduce NAME`` invocation: train what the paper's table needs, write docs/reproductions/NAME.

The models train through the study's runner (:class:`~regae.study.runner.StudyContext`: the one
Trainer builder, one progress line per model and epoch, and the model cache, so a killed run
restarted with the same command continues model by model). ``--quick`` is the study's tiny
level (512 training images, a few epochs, one seed), for the tests. The report (``index.md``,
``metrics.json``, figures) says what was run: the command, the machine, its load and the time.
"""

from __future__ import annotations

import importlib
import shlex
import time
from pathlib import Path

import torch

from regae.errors import ConfigError
from regae.reports.writer import write_report
from regae.study.reproductions import REPRODUCTIONS
from regae.study.runner import StudyContext
from regae.study.session import LoadSampler, machine
from regae.threads.count import set_threads
from regae.training.noise import third_party_noise


def reproduce(name: str, out: Path, quick: bool = False, cache: Path | None = None, seeds: int | None = None,
              seed: int = 0, device: str = "cpu", threads: int = 1, argv: list[str] | None = None) -> Path:
    """Run reproduction ``name`` and write its report into ``out``; returns the path of index.md."""
    if name not in REPRODUCTIONS:
        raise ConfigError(f"unknown reproduction {name!r}; known: {', '.join(REPRODUCTIONS)}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {device} asked for, but torch sees no CUDA device")
    set_threads(threads)
    module = importlib.import_module(REPRODUCTIONS[name][0])
    level = "tiny" if quick else "default"
    command = "regae reproduce " + shlex.join(argv if argv is not None else [name])
    ctx = StudyContext(level, out, device=device, seed=seed, seeds=seeds, cache=cache)
    print(f"regae reproduce: {name} at the {level} level -> {out}" + (f" (model cache {cache})" if cache else ""),
          flush=True)
    sampler, wall0, cpu0 = LoadSampler(), time.perf_counter(), time.process_time()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    with third_party_noise():
        sections = module.run(ctx)
    load = sampler.stop()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    models = ctx.all_models()
    meta = {"command": command, "machine": machine(), "level": level, "threads": threads, "device": device,
            "started": started, "wall_seconds": wall, "cpu_seconds": cpu, "load": load,
            "models": len(models), "models_from_cache": sum(t.cached for t in models)}
    intro = (f"Reproduced by `{command}` ({'the tiny test budget: not a reproduction' if quick else 'the default budget'}),"
             f" started {started} on {meta['machine']}, {threads} torch thread(s): {wall / 60:.1f} min wall, "
             f"{cpu / 60:.1f} min CPU in this invocation, mean load average {load:.1f}; {meta['models']} trained models, "
             f"{meta['models_from_cache']} of them from the model cache (trained by an earlier invocation: their "
             "times are in the learning-curve section). Every number is also in `metrics.json`.")
    index = write_report(out, sections, module.TITLE, intro, meta)
    print(f"regae reproduce: {name} done in {wall:.0f} s ({cpu:.0f} s CPU, load {load:.1f}); report: {index}", flush=True)
    return index

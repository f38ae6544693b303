"""The comparison report: load checkpoints, run every analysis, write index.md/.html + metrics.json.

Each analysis returns a :class:`Section` (markdown + numbers + figures); this module only
loads the models, lays the sections out and writes the files, so every number in index.md
comes from the same dict that goes to metrics.json.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from regae.analysis.health import health_section
from regae.analysis.options import ReportConfig
from regae.analysis.overview import fmt_psnr, overview_section
from regae.analysis.pairs import interpolation_section
from regae.analysis.probe import probe_section
from regae.analysis.tsne import tsne_section
from regae.checkpoints.read import Checkpoint, load_data, model_from, read_checkpoint
from regae.checkpoints.write import check_writable
from regae.data.datamodule import VAL_FRACTION_DENOMINATOR
from regae.errors import CheckpointError, ConfigError, RegaeError
from regae.reports.section import Section
from regae.reports.tables import fmt, md_table, pct
from regae.reports.writer import write_report


def as_groups(ckpts: dict[str, Path | list[Path]]) -> dict[str, list[Path]]:
    """{name: path} or {name: [paths]} -> {name: [paths]}."""
    return {n: list(p) if isinstance(p, (list, tuple)) else [p] for n, p in ckpts.items()}


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"Expected `device` like cpu, cuda, cuda:0 or auto, got {device!r}.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for but CUDA is not available; use --device cpu")
    return dev


def load_checked(path: Path, device: torch.device) -> tuple[Checkpoint, Any]:
    """(checkpoint dict, model on ``device`` in eval mode) from one read of ``path``; any failure of
    ``torch.load`` on a foreign file is a :class:`CheckpointError`."""
    try:
        ckpt = read_checkpoint(path)
        return ckpt, model_from(ckpt, path).to(device).eval()
    except RegaeError:
        raise
    except Exception as exc:  # torch's weights-only unpickler raises KeyError/IndexError/... on junk
        raise CheckpointError(f"checkpoint corrupt or not a checkpoint: {path} ({type(exc).__name__})") from None


def training_budget(ckpt: Checkpoint, train_split: int = 60_000) -> dict[str, Any]:
    """Steps, batch size and epochs-equivalent of a checkpoint dict, from what Lightning stored in it.

    ``train_split``: images in the dataset's training split (validation is held out of it).
    """
    data = ckpt.get("datamodule_hyper_parameters") or {}
    batch = data.get("batch_size")
    val = data.get("val_size")
    val = train_split // VAL_FRACTION_DENOMINATOR if val is None else val
    n_train = data.get("limit_train") or (train_split - val if data else None)
    steps = int(ckpt.get("global_step", 0))
    hp = ckpt.get("hyper_parameters", {})
    return {
        "global_step": steps, "completed_epochs": int(ckpt.get("epoch", 0)), "batch_size": batch,
        "train_images": n_train, "epochs_equivalent": (steps * batch / n_train) if batch and n_train else None,
        "optimizer": hp.get("optimizer"), "lr": hp.get("lr"), "widths": hp.get("widths"),
    }


def shared_dataset(groups: dict[str, list[Any]]):
    """The one dataset every model was trained on (read again from the checkpoints' records)."""
    seen = {(name, (m.data_record or {}).get("dataset", "mnist"), tuple(m.input_shape))
            for name, ms in groups.items() for m in ms}
    if len({(spec, shape) for _, spec, shape in seen}) > 1:
        what = ", ".join(sorted(f"{n}: {spec} {'x'.join(map(str, shape))}" for n, spec, shape in seen))
        raise ConfigError(f"the checkpoints were trained on different data ({what}); report on one dataset at a time")
    return load_data(next(iter(groups.values()))[0])


def budget_section(paths: dict[str, list[Path]], groups: dict[str, list[Any]], ckpts: dict[str, list[Checkpoint]],
                   train_split: int = 60_000) -> Section:
    rows, metrics = [], {}
    for name, ps in paths.items():
        metrics[name] = []
        for path, m, ckpt in zip(ps, groups[name], ckpts[name]):
            b = training_budget(ckpt, train_split)
            b.update(checkpoint=str(path), arch=m.hparams.get("arch"), latent_dim=m.latent_dim,
                     parameters=sum(p.numel() for p in m.parameters()), seed=m.hparams.get("seed"),
                     lr_schedule=m.hparams.get("lr_schedule", "constant"))
            metrics[name].append(b)
            rows.append([name if len(ps) == 1 else f"{name} (seed {b['seed']})", f"`{path}`",
                         f"{b['arch']} {b['widths'] or '(default widths)'}, d={m.latent_dim}", f"{b['parameters']:,}",
                         b["global_step"], b["batch_size"], fmt(b["epochs_equivalent"], 2),
                         f"{b['optimizer']} lr={b['lr']:g}, {b['lr_schedule']}"])
    text = ("What each model is and how long it was trained (steps × batch size ÷ training images = "
            "epochs).\n\n" + md_table(["AE", "checkpoint", "net", "parameters", "steps", "batch", "epochs",
                                        "optimizer"], rows))
    return Section("models", "Models and training budget", text, metrics)


def summary_section(sections: dict[str, Section], names: list[str]) -> Section:
    """The headline numbers and every comparison verdict, restated from the other sections' metrics."""
    ov = sections["overview"].metrics
    lines = ["- Test PSNR: " + ", ".join(f"{n} {fmt_psnr(ov[n]['test_psnr_db_per_seed'])} dB" for n in names) + "."]
    lines += [f"- Test PSNR: {c['sentence']}." for c in ov["comparisons"]]
    cls = sections["classification"].metrics
    best = {}
    if "accuracy" in cls:
        for n in names:
            clf, acc = max(cls["accuracy"][n].items(), key=lambda kv: kv[1]["accuracy"])
            best[n] = {"classifier": clf, **acc}
        lines.append("- Best embedding classifier: " + ", ".join(
            f"{n} {pct(best[n]['accuracy'])} ({best[n]['classifier']}, 95 % CI {pct(best[n]['ci_low'])}–"
            f"{pct(best[n]['ci_high'])})" for n in names) + ".")
        lines += [f"- {c['classifier']}: {c['sentence']} ({c['test']})." for c in cls["comparisons"]]
    interp = sections["interpolation"].metrics
    lines += [f"- Interpolation (mean PSNR between the routes, 0 < α < 1): {c['sentence']}."
              for c in interp["comparisons"]]
    return Section("summary", "Summary", "\n".join(lines), {"best_classifier": best})


def build_report(ckpts: dict[str, Path | list[Path]], out: Path, cfg: ReportConfig | None = None,
                 title: str = "Regularized autoencoders compared", intro: str = "") -> Path:
    """Analyse ``ckpts`` ({name: path or [paths of its seeds]}) and write ``out/index.md``,
    ``index.html``, ``metrics.json`` and PNGs."""
    cfg = cfg or ReportConfig()
    device = resolve_device(cfg.device)
    check_writable(out, "the report")
    paths = as_groups(ckpts)
    loaded = {name: [load_checked(p, device) for p in ps] for name, ps in paths.items()}
    dicts = {name: [c for c, _ in pairs] for name, pairs in loaded.items()}
    groups = {name: [m for _, m in pairs] for name, pairs in loaded.items()}
    data = shared_dataset(groups)
    train, test, classes = data.train, data.test, data.classes
    timings: dict[str, float] = {}
    sections: dict[str, Section] = {}
    steps = [
        ("models", lambda: budget_section(paths, groups, dicts, len(train.images))),
        ("overview", lambda: overview_section(groups, test.images, test.labels, out, cfg.n_reg,
                                              {n: [str(p) for p in ps] for n, ps in paths.items()})),
        ("tsne", lambda: tsne_section(groups, test.images, test.labels, out, cfg.n_tsne, cfg.seed, classes)),
        ("interpolation", lambda: interpolation_section(groups, test.images, test.labels, out, cfg.n_pairs,
                                                        cfg.seed, classes=classes)),
        ("health", lambda: health_section(groups, test.images, out, cfg.seed)),
    ]
    if data.labelled:
        steps.append(("classification", lambda: probe_section(groups, train, test, cfg.n_probe_train, cfg.seed)))
    for k, (key, run) in enumerate(steps, 1):
        print(f"[report {k}/{len(steps)}] {key} ...", flush=True)
        t0 = time.perf_counter()
        sections[key] = run()
        timings[key] = round(time.perf_counter() - t0, 2)
    if not data.labelled:
        sections["classification"] = Section(
            "classification", "Classification on the embeddings",
            f"Skipped: {data.spec} has no labels, so there is nothing to classify (and the t-SNE is in one colour).",
            {"skipped": "unlabelled dataset"})
    if len(groups) >= 2:
        sections = {"summary": summary_section(sections, list(groups)), **sections}
    meta = {"title": title, "dataset": data.record(), "checkpoints": {n: [str(p) for p in ps] for n, ps in paths.items()},
            "config": asdict(cfg), "timings_s": timings,
            "inf_encoding": 'PSNR of identical images (+inf) is written as the string "inf"; '
            "a std that does not exist (all values inf, or one seed) is null",
            "statistics": "95 % intervals; paired tests on the same test images: exact McNemar (classifiers, one "
            "seed), paired bootstrap with 10,000 resamples (PSNR, interpolation, several seeds); p < 0.05 is "
            "called a difference"}
    return write_report(out, list(sections.values()), title, intro, meta)

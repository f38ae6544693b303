"""What ``regae report`` and ``regae compare`` take from the command line, validated once.

Kept free of torch so that ``--help`` and every option error answer at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from regae.errors import ConfigError


@dataclass
class ReportConfig:
    """Sizes of the analyses (defaults sized to take a few minutes on a 2-core CPU)."""

    n_tsne: int = 2000  # test images in the t-SNE (~30 s of CPU per AE)
    n_pairs: int = 20  # interpolation pairs
    n_probe_train: int = 60000  # training images the classifiers are fitted on (all of MNIST's)
    n_reg: int = 256  # test images for the regularizer values (exact Jacobian: d VJPs each)
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("n_tsne", "n_pairs", "n_probe_train", "n_reg"):
            if getattr(self, name) < 1:
                raise ConfigError(f"Expected `{name}` >= 1, got {getattr(self, name)}.")
        if self.n_tsne < 50:
            raise ConfigError(f"Expected `n_tsne` >= 50 (t-SNE needs a few points per class), got {self.n_tsne}.")


def parse_ckpt_args(args: list[str]) -> dict[str, list[Path]]:
    """['sparse=runs/a.ckpt', 'sparse=runs/b.ckpt', 'runs/contractive/checkpoints/last.ckpt'] -> {name: [paths]}.

    The same ``NAME=`` given several times names several training seeds of one AE (they are
    averaged and compared as one). Without ``NAME=``, the name is the run folder (the parent of
    ``checkpoints/``) or the file stem, and a repeated derived name gets a ``-2``, ``-3`` suffix.
    """
    named: dict[str, list[Path]] = {}
    for arg in args:
        name, sep, path = arg.partition("=")
        if not sep or "/" in name or not name:
            name, path = "", arg
        p = Path(path)
        if name:
            named.setdefault(name, []).append(p)
            continue
        name = p.parent.parent.name if p.parent.name == "checkpoints" and p.parent.parent.name else p.stem
        base, k = name, 2
        while name in named:
            name, k = f"{base}-{k}", k + 1
        named[name] = [p]
    return named

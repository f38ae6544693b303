"""Input corruptions for denoising autoencoders: tensors in, tensors out.

Each takes images in [0, 1] and a ``torch.Generator`` (so a run is reproducible and a
resumed run draws the same noise) and returns corrupted images in [0, 1].
A corruption is named in config as ``kind:level``, e.g. ``gaussian:0.5``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from regae.errors import ConfigError


def gaussian(x: Tensor, sigma: float, generator: torch.Generator | None = None) -> Tensor:
    """x + σ·ε, ε ~ N(0, 1), clipped to [0, 1]."""
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (x + sigma * noise).clamp_(0.0, 1.0)


def salt_and_pepper(x: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Each pixel independently: with prob p/2 set to 0, with prob p/2 set to 1, else kept."""
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    out = x.clone()
    out[u < p / 2] = 0.0
    out[(u >= p / 2) & (u < p)] = 1.0
    return out


def masking(x: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Each pixel independently set to 0 with probability p (masking noise)."""
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x.masked_fill(u < p, 0.0)


CORRUPTIONS = {"gaussian": gaussian, "salt_and_pepper": salt_and_pepper, "masking": masking}
_LIMITS = {"gaussian": (0.0, float("inf")), "salt_and_pepper": (0.0, 1.0), "masking": (0.0, 1.0)}


@dataclass(frozen=True)
class Corruption:
    """A named corruption with its level, validated at construction."""

    kind: str
    level: float

    def __post_init__(self) -> None:
        if self.kind not in CORRUPTIONS:
            raise ConfigError(f"Expected corruption kind in {sorted(CORRUPTIONS)}, got {self.kind!r}.")
        lo, hi = _LIMITS[self.kind]
        if not (lo < self.level <= hi and math.isfinite(self.level)):
            raise ConfigError(f"Expected {self.kind} level in ({lo}, {hi}], got {self.level}.")

    @classmethod
    def parse(cls, spec: str) -> Corruption:
        """'gaussian:0.5' -> Corruption('gaussian', 0.5)."""
        kind, sep, level = spec.partition(":")
        if not sep:
            raise ConfigError(f"Expected corruption as 'kind:level' (e.g. 'gaussian:0.5'), got {spec!r}.")
        try:
            value = float(level)
        except ValueError:
            raise ConfigError(f"Expected a number after ':' in corruption {spec!r}.") from None
        return cls(kind.strip(), value)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return CORRUPTIONS[self.kind](x, self.level, generator)

    def __str__(self) -> str:
        return f"{self.kind}:{self.level:g}"

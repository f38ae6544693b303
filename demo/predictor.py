"""The demo's model side, without Gradio: load checkpoints once, reconstruct and interpolate.

For two prepared digits A, B (28x28 in [0, 1]) and α on an even grid 0 = α_0 < ... < α_{n-1} = 1
(α is the weight of B, so the strips run from A on the left to B on the right):

    pixel row  : D(E((1-α) A + α B))          decode the encoded pixel mix
    latent row : D((1-α) E(A) + α E(B))        decode the latent mix
    PSNR(pixel, latent) and ‖h_α − h'_α‖₂ per α (+inf and 0 at α = 0, 1)

computed by :func:`regae.analysis.interpolate.interpolate`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

import regae
from regae.analysis.interpolate import Interpolation, interpolate
from regae.errors import CheckpointError, ConfigError

MIN_STEPS, MAX_STEPS, DEFAULT_STEPS = 2, 33, 6
PREFERRED = ("sparse", "contractive")  # listed first, in this order


class Result(NamedTuple):
    inputs: Tensor  # (2, 1, 28, 28) A and B as the model sees them
    reconstructions: Tensor  # (2, 1, 28, 28) D(E(A)), D(E(B))
    interpolation: Interpolation  # alphas (n,), pixel/latent (n, 1, 28, 28), psnr (n,), latent_dist (n,)


def alphas_for(steps: int) -> Tensor:
    """``steps`` evenly spaced α in [0, 1], both ends included: (steps,)."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer, float)) or steps != int(steps):
        raise ConfigError(f"Expected `steps` an integer in [{MIN_STEPS}, {MAX_STEPS}], got {steps!r}.")
    steps = int(steps)
    if not MIN_STEPS <= steps <= MAX_STEPS:
        raise ConfigError(f"Expected `steps` in [{MIN_STEPS}, {MAX_STEPS}], got {steps}.")
    return torch.linspace(0.0, 1.0, steps)


def list_checkpoints(directory: str | Path) -> dict[str, Path]:
    """name -> path of the ``*.ckpt`` files in ``directory`` (sparse, contractive first)."""
    directory = Path(directory)
    if not directory.is_dir():
        return {}
    found = {p.stem: p for p in sorted(directory.glob("*.ckpt")) if p.is_file()}
    order = [n for n in PREFERRED if n in found] + [n for n in found if n not in PREFERRED]
    return {n: found[n] for n in order}


class Predictor:
    """Models from one checkpoint folder, each loaded once (reloaded only if its file changes)."""

    def __init__(self, checkpoint_dir: str | Path, device: str | torch.device = "cpu") -> None:
        self.checkpoint_dir = Path(checkpoint_dir)
        self.device = torch.device(device)
        self._cache: dict[str, tuple[float, regae.AutoEncoder]] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return list(list_checkpoints(self.checkpoint_dir))

    def model(self, name: str) -> regae.AutoEncoder:
        """The model stored as ``<checkpoint_dir>/<name>.ckpt``; ``CheckpointError`` if unusable."""
        paths = list_checkpoints(self.checkpoint_dir)
        if name not in paths:
            known = ", ".join(paths) or "none"
            raise CheckpointError(f"no checkpoint {name!r} in {self.checkpoint_dir} (available: {known})")
        path = paths[name]
        try:
            mtime = path.stat().st_mtime
        except OSError:
            raise CheckpointError(f"checkpoint not found: {path}") from None
        with self._lock:
            cached = self._cache.get(name)
            if cached is None or cached[0] != mtime:
                self._cache[name] = (mtime, regae.load(path, map_location=self.device))
            return self._cache[name][1]

    def status(self) -> dict[str, str | None]:
        """Load every checkpoint now: name -> None if usable, else the reason it is not."""
        out: dict[str, str | None] = {}
        for name in self.names():
            try:
                self.model(name)
                out[name] = None
            except CheckpointError as exc:
                out[name] = str(exc)
        return out

    @torch.no_grad()
    def run(self, name: str, a: np.ndarray, b: np.ndarray, steps: int = DEFAULT_STEPS) -> Result:
        """Reconstructions of A and B and the interpolation between them under model ``name``."""
        alphas = alphas_for(steps)
        model = self.model(name)
        x = torch.from_numpy(np.stack([a, b]).astype(np.float32)).to(self.device)  # (2, 28, 28)
        if x.shape != (2, 28, 28):
            raise ConfigError(f"Expected two 28x28 images, got {tuple(x.shape)}.")
        x = x.clamp(0, 1).unsqueeze(1)  # (2, 1, 28, 28)
        recon = model.decode(model.encode(x))  # (2, 1, 28, 28)
        # interpolate() mixes α x1 + (1-α) x2: x1 = B, x2 = A makes α the weight of B.
        interp = interpolate(model, x[1], x[0], alphas.to(self.device))
        return Result(x.cpu(), recon.cpu(), Interpolation(*(t.cpu() for t in interp)))

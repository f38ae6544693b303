"""Sparse codes that set L0 directly: the latent activations ``topk`` and ``batch_topk``.

Written as the latent activation (``latent_activation: topk:25``), so they work with every
architecture and combine with every regularizer::

    topk:K        h = ReLU(TopK_K(z)) per image: its K largest pre-activations kept, the rest 0
                  (Makhzani & Frey 2013; Gao et al. 2024). Gradients flow only through the kept ones.
    batch_topk:K  in training, the B·K largest pre-activations of the whole batch (Bussmann et al. 2024),
                  so an image may use more or fewer than K units; a threshold θ, the running mean of
                  the smallest kept value, is learned on the way, and in eval h = ReLU(z)·1[z > θ]:
                  one image's code does not depend on the other images of its batch.

Options after the K, comma-separated: ``alpha=A`` (topk: K' = round(A·K) units at test time,
Makhzani's αK), ``start=K0`` and ``anneal=F`` (topk: K goes linearly from K0 down to K over the
first fraction F of the training steps; the model sets the step, so a resumed run repeats it),
``momentum=M`` (batch_topk: the threshold's update rate). Each code keeps, per unit, the steps
since it last fired (``steps_since_fired``, a buffer): the AuxK loss revives the dead ones
(:class:`regae.regularizers.auxk.AuxK`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from regae.errors import ConfigError


def parse_code(spec: str) -> tuple[str, int, dict[str, float]]:
    """``"topk:25,alpha=3"`` -> ``("topk", 25, {"alpha": 3.0})``; ConfigError naming what is wrong."""
    kind, _, rest = spec.partition(":")
    parts = [p.strip() for p in rest.split(",")] if rest else []
    if kind not in CODES or not parts or not parts[0].isdigit():
        raise ConfigError(f"Expected `latent_activation` topk:K or batch_topk:K (K a positive integer, options "
                          f"after commas), got {spec!r}.")
    options: dict[str, float] = {}
    for part in parts[1:]:
        key, eq, value = part.partition("=")
        allowed = CODES[kind].OPTIONS
        if not eq or key not in allowed:
            raise ConfigError(f"Unknown option {part!r} in `latent_activation` {spec!r}; {kind} takes {', '.join(allowed)}.")
        try:
            options[key] = float(value)
        except ValueError:
            raise ConfigError(f"Expected a number for {key} in `latent_activation` {spec!r}, got {value!r}.") from None
    return kind, int(parts[0]), options


class _Code(nn.Module):
    """What both codes share: K, the dead-unit clock, the last pre-activations (for AuxK)."""

    OPTIONS: tuple[str, ...] = ()

    def __init__(self, k: int, latent_dim: int) -> None:
        super().__init__()
        if not 1 <= k <= latent_dim:
            raise ConfigError(f"Expected K in [1, latent_dim={latent_dim}] for a sparse code, got {k}.")
        self.k, self.latent_dim = k, latent_dim
        self.register_buffer("steps_since_fired", torch.zeros(latent_dim))
        self.pre: Tensor | None = None  # (B, d) pre-activations of the last training forward

    def _track(self, z: Tensor, h: Tensor) -> None:
        if self.training:
            self.pre = z
            with torch.no_grad():
                fired = (h > 0).any(0).to(self.steps_since_fired.dtype)  # (d,)
                self.steps_since_fired.add_(1).mul_(1 - fired)

    def dead(self, window: int) -> Tensor:
        """(d,) bool: units that have not fired in the last ``window`` training steps."""
        return self.steps_since_fired >= window


def keep_largest(z: Tensor, k: int, dim: int = 1) -> Tensor:
    """ReLU of the k largest entries of z along ``dim``, zeros elsewhere; gradients only through the kept ones."""
    values, idx = z.topk(k, dim=dim)
    return torch.zeros_like(z).scatter(dim, idx, values.relu())


class TopK(_Code):
    """h = ReLU(TopK_k(z)) per row (module docstring); ``k_now`` is the k of the current training step."""

    OPTIONS = ("alpha", "start", "anneal")

    def __init__(self, k: int, latent_dim: int, alpha: float = 1.0, start: float | None = None,
                 anneal: float = 0.0) -> None:
        super().__init__(k, latent_dim)
        start = k if start is None else int(start)
        if not (math.isfinite(alpha) and alpha >= 1):
            raise ConfigError(f"Expected alpha >= 1 for topk, got {alpha}.")
        if not k <= start <= latent_dim:
            raise ConfigError(f"Expected start in [K={k}, latent_dim={latent_dim}] for topk, got {start}.")
        if not 0 <= anneal <= 1 or (start > k and anneal == 0):
            raise ConfigError(f"Expected anneal in (0, 1] (the fraction of training over which K goes from start to "
                              f"K) for topk, got {anneal}.")
        self.alpha, self.start, self.anneal = alpha, start, anneal
        self.k_now = start

    def set_step(self, step: int, total: int) -> None:
        """k of training step ``step`` of ``total``: from ``start`` linearly down to k over ``anneal``·total."""
        span = max(1.0, self.anneal * total)
        self.k_now = self.k if step >= span else round(self.start + (self.k - self.start) * step / span)

    def forward(self, z: Tensor) -> Tensor:  # z: (B, d)
        k = self.k_now if self.training else min(self.latent_dim, round(self.alpha * self.k))
        h = keep_largest(z, k)
        self._track(z, h)
        return h


class BatchTopK(_Code):
    """The batch's B·k largest pre-activations in training, the learned threshold θ in eval (module docstring)."""

    OPTIONS = ("momentum",)

    def __init__(self, k: int, latent_dim: int, momentum: float = 0.01) -> None:
        super().__init__(k, latent_dim)
        if not 0 < momentum <= 1:
            raise ConfigError(f"Expected momentum in (0, 1] for batch_topk, got {momentum}.")
        self.momentum = momentum
        self.register_buffer("threshold", torch.tensor(float("nan")))  # θ; NaN until the first training batch

    def forward(self, z: Tensor) -> Tensor:  # z: (B, d)
        if not self.training:
            theta = 0.0 if torch.isnan(self.threshold) else self.threshold
            return z.relu() * (z > theta)
        flat = z.flatten()
        h = keep_largest(flat, min(flat.numel(), z.shape[0] * self.k), dim=0).view_as(z)
        with torch.no_grad():
            kept = h[h > 0]
            if kept.numel():
                smallest = kept.min()
                self.threshold.copy_(smallest if torch.isnan(self.threshold)
                                     else self.threshold + self.momentum * (smallest - self.threshold))
        self._track(z, h)
        return h


CODES: dict[str, type[_Code]] = {"topk": TopK, "batch_topk": BatchTopK}

#: the value above which a unit counts as active, per latent activation: a ReLU-type code is active when
#: positive; a sigmoid unit when more on than off (h > 1/2); a linear code is dense (every unit active)
ACTIVE_ABOVE = {"relu": 0.0, "sigmoid": 0.5, "topk": 0.0, "batch_topk": 0.0}


def active_units(h: Tensor, latent_activation: str) -> Tensor:
    """(N, d) bool: which units of codes ``h`` are active, by :data:`ACTIVE_ABOVE` (all, for a linear code)."""
    kind = latent_activation.partition(":")[0]
    if kind not in ACTIVE_ABOVE:
        return torch.ones_like(h, dtype=torch.bool)
    return h > ACTIVE_ABOVE[kind]


def build_code(spec: str, latent_dim: int) -> _Code:
    """The sparse code module a ``latent_activation`` spec names (``topk:25,alpha=3``)."""
    kind, k, options = parse_code(spec)
    return CODES[kind](k, latent_dim, **options)


def sparse_code(net: nn.Module) -> _Code | None:
    """The net's sparse code module, if its latent activation is one."""
    return next((m for m in net.modules() if isinstance(m, _Code)), None)

"""The contractive penalty ‖∂h/∂x‖²_F, averaged over the batch, several ways.

* :func:`frobenius_exact` — the exact Jacobian with ``torch.func`` (the default exact path):
  one ``vjp`` of the whole batch (samples are independent, so the cotangent e_k for every
  sample gives row k of every sample's Jacobian at once), evaluated for the d unit cotangents
  in chunks of ``chunk_size`` under ``vmap``. d backward passes are the floor for the exact
  value. ``chunk_size='auto'`` takes all d at once on CUDA and :data:`CPU_CHUNK` on a CPU
  (measured best, benchmarks/README.md: ``vmap`` over the latent axis makes every op c times
  larger, which falls out of cache on a CPU).
* :func:`frobenius_exact_from_graph` — the same d VJPs taken on the graph of the *training*
  forward pass (h already computed from an x that requires grad), so the encoder runs once
  per step (``reuse_forward: true``). Kept as an option: on a CPU it saves one encoder
  forward per step, a few per cent of an exact step (benchmarks/README.md).
* exact on a subset (``samples: m``) — the exact per-sample value on m samples drawn at random
  from the batch: an unbiased estimate of the batch mean at about m/B of the exact cost.
* :func:`frobenius_hutchinson` — unbiased estimate E_v ‖Jᵀv‖², v ~ N(0, I_d), with k
  probes; reuses the training forward pass and costs k VJPs (and their double backward).
* :func:`frobenius_sigmoid_layer` — closed form for h = σ(Wx + b):
  Σ_j (h_j(1 - h_j))² Σ_i W_ji².

:func:`frobenius_per_sample` (``vmap(jacrev)`` per sample) is the naive reference.
All return the per-sample values (B,) and stay differentiable w.r.t. the parameters.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev, vjp, vmap

from regae.errors import ConfigError
from regae.nets.base import AENet
from regae.regularizers.base import Regularizer

MODES = ("exact", "hutchinson", "closed_form")
#: cotangents per vmap chunk of the exact penalty on a CPU (``chunk_size: auto``), from benchmarks/README.md
CPU_CHUNK = 1


def resolve_chunk(chunk_size: int | str | None, device: torch.device) -> int | None:
    """``'auto'`` -> all d at once (None) on CUDA, :data:`CPU_CHUNK` elsewhere; ints and None pass."""
    if chunk_size == "auto":
        return None if device.type == "cuda" else CPU_CHUNK
    return chunk_size


def _as_function(encoder: nn.Module):
    params = {**dict(encoder.named_parameters()), **dict(encoder.named_buffers())}
    return lambda x: functional_call(encoder, params, (x,))


def frobenius_per_sample(encoder: nn.Module, x: Tensor) -> Tensor:
    """Naive reference: vmap over samples of jacrev of the single-sample encoder. (B,)"""
    f = _as_function(encoder)
    jac = vmap(jacrev(lambda xi: f(xi.unsqueeze(0)).squeeze(0)))(x)  # (B, d, C, H, W)
    return jac.pow(2).flatten(1).sum(1)


def frobenius_exact(encoder: nn.Module, x: Tensor, chunk_size: int | str | None = "auto") -> Tensor:
    """Exact ‖∂h/∂x‖²_F per sample (B,) from one batched ``torch.func.vjp``.

    ``chunk_size`` cotangents go through ``vmap(vjp_fn)`` at once; ``None`` means all d,
    ``'auto'`` see :func:`resolve_chunk`. The encoder must treat samples independently
    (no batch statistics).
    """
    chunk_size = resolve_chunk(chunk_size, x.device)
    h, vjp_fn = vjp(_as_function(encoder), x)  # h: (B, d)
    d = h.shape[1]
    eye = torch.eye(d, device=h.device, dtype=h.dtype)
    step = d if chunk_size is None else max(1, chunk_size)
    total = x.new_zeros(x.shape[0])
    for start in range(0, d, step):
        basis = eye[start : start + step].unsqueeze(1).expand(-1, h.shape[0], d)  # (c, B, d)
        if basis.shape[0] == 1:
            (rows,) = vjp_fn(basis[0])  # (B, C, H, W)
            rows = rows.unsqueeze(0)
        else:
            (rows,) = vmap(vjp_fn)(basis)  # (c, B, C, H, W)
        total = total + rows.pow(2).sum(dim=(0, *range(2, rows.ndim)))
    return total


def frobenius_exact_from_graph(h: Tensor, x: Tensor, chunk_size: int | str | None = "auto") -> Tensor:
    """Exact ‖∂h/∂x‖²_F per sample (B,) from the existing graph h(x): Σ_k ‖(∂h/∂x)ᵀ e_k‖².

    ``h`` (B, d) must have been computed from ``x`` with ``x.requires_grad`` (the training
    forward pass); ``chunk_size`` unit cotangents are pushed back at once
    (``is_grads_batched``, i.e. ``vmap``), ``None`` means all d. The encoder must treat
    samples independently.
    """
    if not x.requires_grad or h.grad_fn is None:
        raise ValueError("frobenius_exact_from_graph needs h computed from an x that requires grad.")
    chunk_size = resolve_chunk(chunk_size, x.device)
    d = h.shape[1]
    step = d if chunk_size is None else max(1, chunk_size)
    total = x.new_zeros(x.shape[0])
    for start in range(0, d, step):
        stop = min(start + step, d)
        if stop - start == 1:
            (rows,) = torch.autograd.grad(h[:, start].sum(), x, create_graph=True, retain_graph=True)
            total = total + rows.pow(2).flatten(1).sum(1)  # rows: (B, C, H, W)
            continue
        basis = torch.zeros(stop - start, *h.shape, device=h.device, dtype=h.dtype)  # (c, B, d)
        basis[torch.arange(stop - start), :, torch.arange(start, stop)] = 1.0
        (rows,) = torch.autograd.grad(
            h, x, grad_outputs=basis, create_graph=True, retain_graph=True, is_grads_batched=True
        )  # (c, B, C, H, W)
        total = total + rows.pow(2).sum(dim=(0, *range(2, rows.ndim)))
    return total


def frobenius_hand_loop(h: Tensor, x: Tensor) -> Tensor:
    """‖J_h(x)‖²_F per sample the notebook way: one autograd VJP per latent unit on the
    batch's graph. (B,) The slow reference the fast paths are tested and benchmarked against."""
    total = x.new_zeros(x.shape[0])
    for k in range(h.shape[1]):
        (g,) = torch.autograd.grad(h[:, k].sum(), x, create_graph=True, retain_graph=True)
        total = total + g.pow(2).flatten(1).sum(1)
    return total


def frobenius_hutchinson(
    h: Tensor, x: Tensor, probes: int = 1, generator: torch.Generator | None = None
) -> Tensor:
    """Unbiased estimate of ‖∂h/∂x‖²_F per sample (B,): mean over k probes of ‖Jᵀv‖², v ~ N(0, I).

    ``h`` must have been computed from ``x`` with ``x.requires_grad``.
    """
    if not x.requires_grad or h.grad_fn is None:
        raise ValueError("Hutchinson estimate needs h computed from an x that requires grad.")
    total = x.new_zeros(x.shape[0])
    for _ in range(probes):
        v = torch.randn(h.shape, generator=generator, device=h.device, dtype=h.dtype)
        (jtv,) = torch.autograd.grad(h, x, grad_outputs=v, create_graph=True, retain_graph=True)
        total = total + jtv.pow(2).flatten(1).sum(1)
    return total / probes


def frobenius_sigmoid_layer(weight: Tensor, h: Tensor) -> Tensor:
    """Closed form for h = σ(Wx + b): Σ_j (h_j(1-h_j))² Σ_i W_ji², per sample (B,).

    ``weight`` is (d, n), ``h`` the layer's output (B, d).
    """
    return ((h * (1 - h)).pow(2) * weight.pow(2).sum(1)).sum(1)


def single_sigmoid_layer(encoder: nn.Module) -> nn.Linear | None:
    """The Linear of an encoder that is exactly [Flatten,] Linear, Sigmoid; else None."""
    layers = [m for m in encoder.children() if not isinstance(m, nn.Flatten)]
    if len(layers) == 2 and isinstance(layers[0], nn.Linear) and isinstance(layers[1], nn.Sigmoid):
        return layers[0]
    return None


def subset_indices(batch: int, samples: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
    """``samples`` distinct indices of a batch of ``batch``, drawn with ``generator`` (all if m >= B)."""
    if samples >= batch:
        return torch.arange(batch, device=device)
    gen_device = generator.device if generator is not None else torch.device("cpu")
    return torch.randperm(batch, generator=generator, device=gen_device)[:samples].to(device)


class Contractive(Regularizer):
    """(1/B) Σ_b ‖∂h_b/∂x_b‖²_F, the squared Frobenius norm of the encoder's Jacobian.

    ``mode='exact'`` (d VJPs per sample), ``'hutchinson'`` (k random probes, unbiased),
    ``'closed_form'`` (only for a single sigmoid dense layer). In exact mode:

    * ``samples: m`` takes the exact value on m samples drawn at random from the batch
      (unbiased for the batch mean, about m/B of the cost; ``null`` = every sample);
    * ``chunk_size`` cotangents go back at once (``auto``: all d on CUDA, 1 on a CPU);
    * ``reuse_forward: true`` takes the VJPs on the training forward's graph
      (:func:`frobenius_exact_from_graph`, all samples) instead of ``torch.func``
      (:func:`frobenius_exact`, the default).
    """

    name = "contractive"

    def __init__(
        self, weight: float, mode: str = "exact", probes: int = 1, chunk_size: int | str | None = "auto",
        reuse_forward: bool = False, samples: int | None = None,
    ) -> None:
        super().__init__(weight)
        if mode not in MODES:
            raise ConfigError(f"Expected contractive `mode` in {list(MODES)}, got {mode!r}.")
        if not isinstance(probes, int) or probes < 1:
            raise ConfigError(f"Expected contractive `probes` >= 1, got {probes}.")
        if chunk_size not in (None, "auto") and (not isinstance(chunk_size, int) or chunk_size < 1):
            raise ConfigError(f"Expected contractive `chunk_size` >= 1, 'auto' or null, got {chunk_size!r}.")
        if not isinstance(reuse_forward, bool):
            raise ConfigError(f"Expected contractive `reuse_forward` true or false, got {reuse_forward!r}.")
        if samples is not None and (not isinstance(samples, int) or isinstance(samples, bool) or samples < 1):
            raise ConfigError(f"Expected contractive `samples` >= 1 or null, got {samples!r}.")
        if samples is not None and (mode != "exact" or reuse_forward):
            raise ConfigError("contractive `samples` (exact on a random subset) needs mode 'exact' "
                              "and reuse_forward false.")
        self.mode, self.probes, self.chunk_size, self.reuse_forward = mode, probes, chunk_size, reuse_forward
        self.samples = samples
        self.needs_input_grad = mode == "hutchinson" or (mode == "exact" and reuse_forward)

    def check(self, model: AENet, latent_activation: str) -> None:
        if self.mode == "closed_form" and single_sigmoid_layer(model.encoder) is None:
            raise ConfigError(
                "contractive mode 'closed_form' needs an encoder of one dense sigmoid layer "
                "(arch=mlp, widths=[], latent_activation=sigmoid); use mode 'exact'."
            )

    def __call__(self, model: AENet, x: Tensor, h: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if self.mode == "hutchinson":
            per_sample = frobenius_hutchinson(h, x, self.probes, generator)
        elif self.mode == "closed_form":
            per_sample = frobenius_sigmoid_layer(single_sigmoid_layer(model.encoder).weight, h)
        elif self.reuse_forward and x.requires_grad and h.grad_fn is not None:
            per_sample = frobenius_exact_from_graph(h, x, self.chunk_size)
        else:
            x = x.detach()
            if self.samples is not None:
                x = x[subset_indices(x.shape[0], self.samples, generator, x.device)]  # (m, C, H, W)
            per_sample = frobenius_exact(model.encoder, x, self.chunk_size)
        return per_sample.mean()

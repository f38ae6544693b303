"""The contractive penalty ‖∂h/∂x‖²_F, averaged over the batch, three ways.

* :func:`frobenius_exact` — the exact Jacobian with ``torch.func``: one ``vjp`` of the
  whole batch (samples are independent, so the cotangent e_k for every sample gives row k
  of every sample's Jacobian at once), evaluated for the d unit cotangents in chunks of
  ``chunk_size`` under ``vmap``. d backward passes are the floor for the exact value.
* :func:`frobenius_exact_from_graph` — the same d VJPs taken on the graph of the
  *training* forward pass (h already computed from an x that requires grad), so the
  encoder runs once per step. This is the default of :class:`Contractive` (fastest on CPU,
  see benchmarks/README.md: ``vmap`` over the latent axis makes every op d times larger,
  which falls out of cache on a CPU, so one VJP at a time wins there).
* :func:`frobenius_hutchinson` — unbiased estimate E_v ‖Jᵀv‖², v ~ N(0, I_d), with k
  probes; reuses the training forward pass and costs one VJP (and its double backward).
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


def _as_function(encoder: nn.Module):
    params = {**dict(encoder.named_parameters()), **dict(encoder.named_buffers())}
    return lambda x: functional_call(encoder, params, (x,))


def frobenius_per_sample(encoder: nn.Module, x: Tensor) -> Tensor:
    """Naive reference: vmap over samples of jacrev of the single-sample encoder. (B,)"""
    f = _as_function(encoder)
    jac = vmap(jacrev(lambda xi: f(xi.unsqueeze(0)).squeeze(0)))(x)  # (B, d, 1, 28, 28)
    return jac.pow(2).flatten(1).sum(1)


def frobenius_exact(encoder: nn.Module, x: Tensor, chunk_size: int | None = 1) -> Tensor:
    """Exact ‖∂h/∂x‖²_F per sample (B,) from one batched ``torch.func.vjp``.

    ``chunk_size`` cotangents go through ``vmap(vjp_fn)`` at once; ``None`` means all d.
    The encoder must treat samples independently (no batch statistics).
    """
    h, vjp_fn = vjp(_as_function(encoder), x)  # h: (B, d)
    d = h.shape[1]
    eye = torch.eye(d, device=h.device, dtype=h.dtype)
    step = d if chunk_size is None else max(1, chunk_size)
    total = x.new_zeros(x.shape[0])
    for start in range(0, d, step):
        basis = eye[start : start + step].unsqueeze(1).expand(-1, h.shape[0], d)  # (c, B, d)
        if basis.shape[0] == 1:
            (rows,) = vjp_fn(basis[0])  # (B, 1, 28, 28)
            rows = rows.unsqueeze(0)
        else:
            (rows,) = vmap(vjp_fn)(basis)  # (c, B, 1, 28, 28)
        total = total + rows.pow(2).sum(dim=(0, *range(2, rows.ndim)))
    return total


def frobenius_exact_from_graph(h: Tensor, x: Tensor, chunk_size: int | None = 1) -> Tensor:
    """Exact ‖∂h/∂x‖²_F per sample (B,) from the existing graph h(x): Σ_k ‖(∂h/∂x)ᵀ e_k‖².

    ``h`` (B, d) must have been computed from ``x`` with ``x.requires_grad`` (the training
    forward pass); ``chunk_size`` unit cotangents are pushed back at once
    (``is_grads_batched``, i.e. ``vmap``), ``None`` means all d. The encoder must treat
    samples independently.
    """
    if not x.requires_grad or h.grad_fn is None:
        raise ValueError("frobenius_exact_from_graph needs h computed from an x that requires grad.")
    d = h.shape[1]
    step = d if chunk_size is None else max(1, chunk_size)
    total = x.new_zeros(x.shape[0])
    for start in range(0, d, step):
        stop = min(start + step, d)
        if stop - start == 1:
            (rows,) = torch.autograd.grad(h[:, start].sum(), x, create_graph=True, retain_graph=True)
            total = total + rows.pow(2).flatten(1).sum(1)  # rows: (B, 1, 28, 28)
            continue
        basis = torch.zeros(stop - start, *h.shape, device=h.device, dtype=h.dtype)  # (c, B, d)
        basis[torch.arange(stop - start), :, torch.arange(start, stop)] = 1.0
        (rows,) = torch.autograd.grad(
            h, x, grad_outputs=basis, create_graph=True, retain_graph=True, is_grads_batched=True
        )  # (c, B, 1, 28, 28)
        total = total + rows.pow(2).sum(dim=(0, *range(2, rows.ndim)))
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


class Contractive(Regularizer):
    """(1/B) Σ_b ‖∂h_b/∂x_b‖²_F, the squared Frobenius norm of the encoder's Jacobian.

    ``mode='exact'`` (d VJPs), ``'hutchinson'`` (k random probes, unbiased),
    ``'closed_form'`` (only for a single sigmoid dense layer). In exact mode
    ``reuse_forward=True`` (default) takes the VJPs on the training forward's graph
    (:func:`frobenius_exact_from_graph`); ``False`` runs the encoder again under
    ``torch.func`` (:func:`frobenius_exact`). ``chunk_size`` cotangents go back at once
    in either (1 is fastest on CPU).
    """

    name = "contractive"

    def __init__(
        self, weight: float, mode: str = "exact", probes: int = 1, chunk_size: int | None = 1,
        reuse_forward: bool = True,
    ) -> None:
        super().__init__(weight)
        if mode not in MODES:
            raise ConfigError(f"Expected contractive `mode` in {list(MODES)}, got {mode!r}.")
        if not isinstance(probes, int) or probes < 1:
            raise ConfigError(f"Expected contractive `probes` >= 1, got {probes}.")
        if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
            raise ConfigError(f"Expected contractive `chunk_size` >= 1 or null, got {chunk_size}.")
        if not isinstance(reuse_forward, bool):
            raise ConfigError(f"Expected contractive `reuse_forward` true or false, got {reuse_forward!r}.")
        self.mode, self.probes, self.chunk_size, self.reuse_forward = mode, probes, chunk_size, reuse_forward
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
            per_sample = frobenius_exact(model.encoder, x.detach(), self.chunk_size)
        return per_sample.mean()

"""The merge methods, each declared once in ``METHODS``: what it needs and how it computes.

Every method takes the same tensor from each model (and the base's, where it has one) and
returns the merged tensor in float32. The arithmetic follows mergekit 0.1.5, so that the
same YAML gives the same tensors (to float32 rounding):

- ``linear`` (Wortsman et al., 2022): Σ wᵢ·θᵢ, divided by Σ wᵢ when ``normalize``.
- ``slerp``: spherical interpolation from the base (t = 0) to the other model (t = 1), of
  each tensor as one flat vector; nearly collinear tensors (|cos| > 0.9995) are
  interpolated linearly.
- ``task_arithmetic`` (Ilharco et al., 2023), ``ties`` (Yadav et al., 2023), ``dare_ties``
  and ``dare_linear`` (Yu et al., 2023): task vectors δᵢ = θᵢ − θ_base are pruned (TIES: the
  largest ``density`` of magnitudes; DARE: a random ``density`` of entries), weighted, and,
  for the TIES variants, only entries agreeing with the elected sign (the sign of Σ wᵢδᵢ)
  are kept; the sum is divided by the kept weights when ``normalize``, scaled by
  ``lambda`` and added to the base. ``rescale`` scales a pruned δ back to its L1 norm
  (mergekit 0.1.5's rescaling; DARE's paper divides by ``density``, the same in
  expectation).

DARE's draws come from a ``torch.Generator`` seeded per tensor and model from the config's
``seed`` (``dare_generator``), so a merge is reproducible; mergekit draws from torch's
global generator, so its DARE output differs from ours entry by entry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class TensorInputs:
    """How a merge sees one tensor: the models' tensors in config order, the base's (or
    None), the global and per-model parameters, and the generator for random pruning."""

    tensors: list[torch.Tensor]
    base: torch.Tensor | None
    shared: dict[str, Any]
    per_model: list[dict[str, Any]]
    generator: Callable[[int], torch.Generator]


Kernel = Callable[[TensorInputs], "torch.Tensor"]


@dataclass(frozen=True)
class Method:
    """One merge method: its base requirement, model count, parameters and defaults.

    ``shared`` and ``per_model`` map each parameter the method reads to its default (None:
    required). ``copies(n)`` is how many float32 copies of one tensor the kernel holds at
    its peak with ``n`` non-base models (inputs included), for the memory check.
    """

    name: str
    kernel: Kernel
    base: bool
    shared: dict[str, float | bool | None]
    per_model: dict[str, float | bool | None]
    copies: Callable[[int], int]
    min_models: int = 1
    max_models: int | None = None
    reference: str = ""


def linear(x: TensorInputs) -> torch.Tensor:
    import torch

    tensors, shared, per_model = x.tensors, x.shared, x.per_model

    weights = [float(p["weight"]) for p in per_model]
    result = torch.zeros_like(tensors[0], dtype=torch.float32)
    for tensor, weight in zip(tensors, weights, strict=True):
        result.add_(tensor.to(torch.float32), alpha=weight)
    if shared["normalize"]:
        result.div_(sum(weights))
    return result


def slerp(x: TensorInputs) -> torch.Tensor:
    import torch

    base, shared, tensors = x.base, x.shared, x.tensors

    assert base is not None
    t, eps, threshold = float(shared["t"]), 1e-8, 0.9995
    a = base.to(torch.float32).reshape(-1)
    b = tensors[0].to(torch.float32).reshape(-1)
    norm_a, norm_b = torch.linalg.vector_norm(a), torch.linalg.vector_norm(b)
    norm_a = torch.where(norm_a > eps, norm_a, 1)
    norm_b = torch.where(norm_b > eps, norm_b, 1)
    dot = ((a / norm_a) * (b / norm_b)).sum().clamp(-1, 1)
    if a.numel() == 0 or dot.abs() > threshold:
        return ((1 - t) * a + t * b).reshape(base.shape)
    theta = torch.acos(dot)
    sin_theta = torch.sin(theta)
    coef_a, coef_b = torch.sin((1 - t) * theta) / sin_theta, torch.sin(t * theta) / sin_theta
    return (coef_a * a + coef_b * b).reshape(base.shape)


def dare_generator(seed: int, tensor: str, model: int) -> torch.Generator:
    """The generator of DARE's draws for ``tensor`` of the ``model``-th non-base model:
    seeded from a hash of all three, so the draws do not depend on the order of work."""
    import torch

    digest = hashlib.blake2b(f"{seed}\0{tensor}\0{model}".encode(), digest_size=8).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest, "little") >> 1)


def _task_arithmetic(sparsify: str | None, consensus: bool) -> Kernel:
    """task_arithmetic, ties, dare_ties and dare_linear: one kernel, two switches."""

    def kernel(x: TensorInputs) -> torch.Tensor:
        import torch

        tensors, base, shared, per_model = x.tensors, x.base, x.shared, x.per_model

        assert base is not None
        base32 = base.to(torch.float32)
        deltas = torch.empty((len(tensors), *base.shape), dtype=torch.float32)
        for i, (tensor, params) in enumerate(zip(tensors, per_model, strict=True)):
            delta = tensor.to(torch.float32) - base32
            if sparsify is not None and float(params["density"]) < 1:
                delta = _prune(delta, float(params["density"]), sparsify, x.generator(i))
                if shared["rescale"]:
                    delta = _l1_rescaled(tensor.to(torch.float32) - base32, delta)
            deltas[i] = delta
        weights = [float(p["weight"]) for p in per_model]
        mixed = torch.zeros_like(base32)
        if consensus:
            # the elected sign of Σ wᵢδᵢ; δᵢ agrees where wᵢδᵢ·sign > 0 (zeros never agree)
            for delta, weight in zip(deltas, weights, strict=True):
                delta.mul_(weight)
                mixed.add_(delta)
            elected = torch.where(mixed >= 0, 1.0, -1.0)
            mixed.zero_()
            divisor = torch.zeros_like(base32)
            for delta, weight in zip(deltas, weights, strict=True):
                agrees = delta * elected > 0
                mixed.add_(delta * agrees)
                divisor.add_(agrees, alpha=weight)
                del agrees
            divisor[divisor == 0] = 1
        else:
            for delta, weight in zip(deltas, weights, strict=True):
                mixed.add_(delta, alpha=weight)
            total = sum(weights)
            divisor = torch.tensor(1.0 if abs(total) < 1e-8 else total)
        if shared["normalize"]:
            mixed /= divisor
        return base32 + mixed * float(shared["lambda"])

    return kernel


def _prune(
    delta: torch.Tensor, density: float, how: str, generator: torch.Generator
) -> torch.Tensor:
    import torch

    if density <= 0 or delta.numel() == 0:
        return torch.zeros_like(delta)
    if how == "random":
        keep = torch.bernoulli(torch.full_like(delta, density), generator=generator)
        return delta * keep
    # magnitude: the k = ⌊density·n⌋ largest |δ| (at least one), as many as mergekit keeps;
    # topk, not a full argsort, to hold k indices rather than n (equal |δ| may be kept in
    # another order than mergekit's)
    k = max(1, int(density * delta.numel()))
    keep = torch.zeros(delta.numel(), dtype=torch.bool)
    keep[delta.abs().reshape(-1).topk(k, sorted=False).indices] = True
    return delta * keep.reshape(delta.shape)


def _l1_rescaled(full: torch.Tensor, pruned: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    before, after = full.abs().sum(), pruned.abs().sum()
    if before < eps or after < eps:
        return pruned
    return pruned * (before / after)


_TASK_SHARED: dict[str, float | bool | None] = {"lambda": 1.0, "int8_mask": False}
# the inputs and base, one task vector per model, and about a dozen tensor-sized
# temporaries (the sum, elected sign, divisor, masks, products, topk's int64 indices):
# 2n + 13 float32 copies covers the 16 measured for n = 2 (benchmarks/RESULTS.md)
_TASK_COPIES: Callable[[int], int] = lambda n: 2 * n + 13  # noqa: E731

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("linear", linear, base=False, shared={"normalize": True},
               per_model={"weight": None}, copies=lambda n: n + 3,
               reference="https://arxiv.org/abs/2203.05482"),
        Method("slerp", slerp, base=True, shared={"t": None}, per_model={},
               copies=lambda n: 8, min_models=1, max_models=1,
               reference="https://en.wikipedia.org/wiki/Slerp"),
        Method("task_arithmetic", _task_arithmetic(None, consensus=False), base=True,
               shared={**_TASK_SHARED, "normalize": False, "rescale": False},
               per_model={"weight": None}, copies=_TASK_COPIES,
               reference="https://arxiv.org/abs/2212.04089"),
        Method("ties", _task_arithmetic("magnitude", consensus=True), base=True,
               shared={**_TASK_SHARED, "normalize": True, "rescale": False},
               per_model={"weight": None, "density": 1.0}, copies=_TASK_COPIES,
               reference="https://arxiv.org/abs/2306.01708"),
        Method("dare_ties", _task_arithmetic("random", consensus=True), base=True,
               shared={**_TASK_SHARED, "normalize": False, "rescale": True},
               per_model={"weight": None, "density": 1.0}, copies=_TASK_COPIES,
               reference="https://arxiv.org/abs/2311.03099"),
        Method("dare_linear", _task_arithmetic("random", consensus=False), base=True,
               shared={**_TASK_SHARED, "normalize": False, "rescale": True},
               per_model={"weight": None, "density": 1.0}, copies=_TASK_COPIES,
               reference="https://arxiv.org/abs/2311.03099"),
    )
}  # fmt: skip

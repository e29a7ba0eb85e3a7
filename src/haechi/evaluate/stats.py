"""A reported number and its standard error: means, combined means, bootstrap resampling."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# lm-eval 0.4.13 draws its bootstrap resamples in chunks of this many, one seed per chunk.
BOOTSTRAP_CHUNK = 1000
_DRAWS_PER_BLOCK = 2_000_000  # random numbers held in memory at once


@dataclass(frozen=True)
class Aggregate:
    value: float
    stderr: float | None
    n: int


def mean_with_stderr(values: Sequence[float]) -> Aggregate:
    """Mean and its standard error: sample standard deviation (n-1) / sqrt(n)."""
    n = len(values)
    if n == 0:
        return Aggregate(math.nan, None, 0)
    mean = sum(values) / n
    if n < 2:
        return Aggregate(mean, None, n)
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return Aggregate(mean, math.sqrt(variance) / math.sqrt(n), n)


def combine(parts: Sequence[Aggregate], how: str) -> Aggregate:
    """Aggregate of aggregates: plain ``mean`` or ``size_weighted`` mean. The stderr of a
    size-weighted mean pools the parts' stderrs; a plain mean's is not reported. Parts
    with no items (a category where the judge never gave a score) are left out."""
    parts = [p for p in parts if p.n]
    if not parts:
        return Aggregate(math.nan, None, 0)
    n = sum(p.n for p in parts)
    if how == "size_weighted":
        value = sum(p.value * p.n for p in parts) / n
        if all(p.stderr is not None for p in parts):
            pooled = sum((p.n * (p.stderr or 0.0)) ** 2 for p in parts)
            return Aggregate(value, math.sqrt(pooled) / n, n)
        return Aggregate(value, None, n)
    return Aggregate(sum(p.value for p in parts) / len(parts), None, n)


def bootstrap_stderr(
    statistic: Callable[[NDArray[np.int64]], NDArray[np.float64]],
    codes: NDArray[np.int64],
    n_codes: int,
    iters: int,
) -> float | None:
    """Standard deviation (n-1) of ``statistic`` over resamples, with replacement, of the
    items ``codes`` (each item one of ``n_codes`` categories; ``statistic`` maps a batch of
    per-category counts, shape (resamples, n_codes), to one value per resample).

    Resamples are drawn exactly as lm-eval 0.4.13's ``bootstrap_stderr`` draws them, so the
    two agree on the same items: ``iters // 1000`` chunks of ``min(1000, iters)``
    resamples, chunk ``i`` drawn from ``random.Random(i)`` (Mersenne Twister seeded by
    ``init_by_array([i])``, which numpy's ``RandomState([i])`` reproduces), item
    ``floor(random() * n)``. ``None`` with fewer than 2 resamples or 2 items.
    """
    n = len(codes)
    chunk = min(BOOTSTRAP_CHUNK, iters)
    if chunk < 2 or n < 2:
        return None
    rows = max(1, _DRAWS_PER_BLOCK // n)
    values = []
    for seed in range(iters // chunk):
        state = np.random.RandomState([seed])
        for start in range(0, chunk, rows):
            size = min(rows, chunk - start)
            # random() * n is never negative, so truncating is floor()
            picked = codes[(state.random_sample((size, n)) * n).astype(np.intp)]
            offsets = np.arange(size)[:, None] * n_codes
            counts = np.bincount((picked + offsets).ravel(), minlength=size * n_codes)
            values.append(statistic(counts.reshape(size, n_codes)))
    return float(np.std(np.concatenate(values), ddof=1))


@dataclass(frozen=True)
class PairedDifference:
    """Mean of ``b - a`` over paired items with its percentile bootstrap interval
    (``low``, ``high``; ``None`` with fewer than 2 items) and bootstrap stderr."""

    difference: float
    low: float | None
    high: float | None
    stderr: float | None
    n: int


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    iters: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedDifference:
    """The mean difference ``b - a`` of per-item values of two systems on the same items,
    with the percentile interval over ``iters`` resamples of the items (each resample draws
    item indices with replacement from ``numpy.random.default_rng(seed)``, in blocks of
    at most ``_DRAWS_PER_BLOCK`` indices, and keeps each item's pair together)."""
    if len(a) != len(b):
        raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
    diffs = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    n = len(diffs)
    if n == 0:
        return PairedDifference(math.nan, None, None, None, 0)
    mean = float(diffs.mean())
    if n < 2 or iters < 2:
        return PairedDifference(mean, None, None, None, n)
    rng = np.random.default_rng(seed)
    rows = max(1, _DRAWS_PER_BLOCK // n)
    means = np.concatenate(
        [
            diffs[rng.integers(0, n, size=(min(rows, iters - start), n))].mean(axis=1)
            for start in range(0, iters, rows)
        ]
    )
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return PairedDifference(mean, float(low), float(high), float(np.std(means, ddof=1)), n)

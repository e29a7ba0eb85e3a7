"""Multiple-choice metrics and their aggregation.

``acc`` picks the choice with the highest log-likelihood; the normalised variants divide it
by the choice's length first: ``acc_norm`` in characters (as lm-evaluation-harness does),
``acc_bytes`` in UTF-8 bytes, ``acc_tokens`` in continuation tokens.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

NORMALISERS: dict[str, Callable[[str, int], float]] = {
    "acc": lambda choice, tokens: 1.0,
    "acc_norm": lambda choice, tokens: float(len(choice)),
    "acc_bytes": lambda choice, tokens: float(len(choice.encode("utf-8"))),
    "acc_tokens": lambda choice, tokens: float(tokens),
}
NORMALISATION_NOTE = {
    "acc": "unnormalised log-likelihood",
    "acc_norm": "log-likelihood / choice length in characters",
    "acc_bytes": "log-likelihood / choice length in UTF-8 bytes",
    "acc_tokens": "log-likelihood / continuation tokens",
}


def first_argmax(values: Sequence[float]) -> int:
    """Index of the largest value; ties go to the first, as numpy's argmax does."""
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def choice_correct(
    metric: str,
    loglikelihoods: Sequence[float],
    choices: Sequence[str],
    n_tokens: Sequence[int],
    target: int,
) -> float:
    """1.0 when the metric's pick is the gold choice, else 0.0."""
    norm = NORMALISERS[metric]
    scores = [ll / norm(c, t) for ll, c, t in zip(loglikelihoods, choices, n_tokens, strict=True)]
    return 1.0 if first_argmax(scores) == target else 0.0


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

"""Multiple-choice metrics and their aggregation.

``acc`` picks the choice with the highest log-likelihood; the normalised variants divide it
by the choice's length first: ``acc_norm`` in characters (as lm-evaluation-harness does),
``acc_bytes`` in UTF-8 bytes, ``acc_tokens`` in continuation tokens. ``mc1`` is ``acc`` on
a task whose first choice is the true one; ``mc2`` is the probability mass the model puts
on the true choices, normalised over all choices (TruthfulQA). ``f1`` is the macro F1 of
the ``acc`` predictions over the corpus.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

NORMALISERS: dict[str, Callable[[str, int], float]] = {
    "acc": lambda choice, tokens: 1.0,
    "mc1": lambda choice, tokens: 1.0,
    "acc_norm": lambda choice, tokens: float(len(choice)),
    "acc_bytes": lambda choice, tokens: float(len(choice.encode("utf-8"))),
    "acc_tokens": lambda choice, tokens: float(tokens),
}
NORMALISATION_NOTE = {
    "acc": "unnormalised log-likelihood",
    "mc1": "unnormalised log-likelihood, first choice true",
    "mc2": "probability mass on the true choices",
    "acc_norm": "log-likelihood / choice length in characters",
    "acc_bytes": "log-likelihood / choice length in UTF-8 bytes",
    "acc_tokens": "log-likelihood / continuation tokens",
    "f1": "macro F1 of the unnormalised picks",
}
CORPUS_METRICS = ("f1",)


def first_argmax(values: Sequence[float]) -> int:
    """Index of the largest value; ties go to the first, as numpy's argmax does."""
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def pick(
    metric: str, loglikelihoods: Sequence[float], choices: Sequence[str], n_tokens: Sequence[int]
) -> int:
    """The choice a metric picks: the best log-likelihood after its normalisation."""
    norm = NORMALISERS[metric]
    return first_argmax(
        [ll / norm(c, t) for ll, c, t in zip(loglikelihoods, choices, n_tokens, strict=True)]
    )


def true_mass(loglikelihoods: Sequence[float], labels: Sequence[int]) -> float:
    """Normalised probability of the choices labelled 1 (computed stably in float64)."""
    top = max(loglikelihoods)
    weights = [math.exp(ll - top) for ll in loglikelihoods]
    return sum(w for w, label in zip(weights, labels, strict=True) if label == 1) / sum(weights)


def macro_f1(predictions: Sequence[int], golds: Sequence[int]) -> float:
    """Unweighted mean over classes (those seen as gold or predicted) of per-class F1."""
    classes = sorted(set(predictions) | set(golds))
    scores = []
    for c in classes:
        tp = sum(1 for p, g in zip(predictions, golds, strict=True) if p == c and g == c)
        fp = sum(1 for p, g in zip(predictions, golds, strict=True) if p == c and g != c)
        fn = sum(1 for p, g in zip(predictions, golds, strict=True) if p != c and g == c)
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores)


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
    size-weighted mean pools the parts' stderrs; a plain mean's is not reported."""
    n = sum(p.n for p in parts)
    if how == "size_weighted":
        value = sum(p.value * p.n for p in parts) / n
        if all(p.stderr is not None for p in parts):
            pooled = sum((p.n * (p.stderr or 0.0)) ** 2 for p in parts)
            return Aggregate(value, math.sqrt(pooled) / n, n)
        return Aggregate(value, None, n)
    return Aggregate(sum(p.value for p in parts) / len(parts), None, n)

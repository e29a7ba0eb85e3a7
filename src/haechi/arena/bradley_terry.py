"""Bradley–Terry ratings from pairwise votes, on an Elo-like scale, with bootstrap intervals.

Model: P(i beats j) = σ(θ_i − θ_j), with θ the natural-log strength of each model.
- A tie counts as half a win for each side: its log-likelihood term is
  ½·log P(i beats j) + ½·log P(j beats i). A ``both_bad`` vote counts as a tie
  (``both_bad="tie"``, the default, as Chatbot Arena does) or is left out (``"drop"``).
- Strengths maximise the log-likelihood plus ``prior`` virtual ties of every model against a
  model of strength 0: a weak pull towards the middle that keeps an unbeaten model's rating
  finite, and whose weight vanishes as votes accumulate. ``prior=0`` is the plain
  maximum-likelihood estimate, which exists only when the models cannot be split into a group
  that never lost to the rest (checked; ``InputError`` otherwise).
- Fitted by Newton's method on the (concave) objective.
- Ratings: ``anchor_rating + scale · log_base(e) · (θ − θ_anchor)``, with the anchor the mean
  over models or a named model; with the defaults (400, base 10) a 400-point gap means 10:1
  odds, as in Elo.
- Intervals: percentile bootstrap over the votes, resampled with replacement (seeded). With
  ``prior=0``, a resample in which some model never loses puts that model at the optimiser's
  limit (thousands of points), which shows as a very wide interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from haechi.arena.votes import Vote
from haechi.errors import InputError

BothBad = Literal["tie", "drop"]
Floats = NDArray[np.float64]
Ints = NDArray[np.int64]

_MAX_STEPS = 100
_GRADIENT_TOLERANCE = 1e-11  # per vote


@dataclass(frozen=True)
class RatingOptions:
    """How votes become ratings; see the module docstring. ``rounds`` bootstrap resamples
    give the ``confidence`` interval (0.95: the 2.5th and 97.5th percentiles)."""

    both_bad: BothBad = "tie"
    prior: float = 1.0
    scale: float = 400.0
    base: float = 10.0
    anchor: str | None = None
    anchor_rating: float = 1000.0
    rounds: int = 1000
    confidence: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if self.both_bad not in ("tie", "drop"):
            raise ValueError(f"both_bad must be 'tie' or 'drop', not {self.both_bad!r}")
        if self.prior < 0 or self.scale <= 0 or self.base <= 1 or self.rounds < 0:
            raise ValueError("need prior >= 0, scale > 0, base > 1 and rounds >= 0")
        if not 0 < self.confidence < 1:
            raise ValueError("confidence must be between 0 and 1")


@dataclass(frozen=True)
class ModelRating:
    """One model: ``rating`` (points) with its bootstrap interval ``lower``–``upper``,
    ``log_strength`` (θ, nats, relative to the anchor) and its record in the votes used
    (``ties`` include both-bad votes counted as ties)."""

    model: str
    rating: float
    lower: float
    upper: float
    log_strength: float
    wins: int
    losses: int
    ties: int

    @property
    def votes(self) -> int:
        return self.wins + self.losses + self.ties


@dataclass(frozen=True)
class WinRates:
    """``rate[i][j]``: the share of votes between ``models[i]`` and ``models[j]`` that
    ``models[i]`` won, ties counting half (``None`` where they never met); ``count[i][j]``:
    how many votes that share is over."""

    models: tuple[str, ...]
    rate: tuple[tuple[float | None, ...], ...]
    count: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Ratings:
    """Models best first, the observed win rates in the same order, the votes used and the
    both-bad votes dropped."""

    ratings: tuple[ModelRating, ...]
    win_rates: WinRates
    votes: int
    dropped: int
    options: RatingOptions


@dataclass(frozen=True)
class _Cells:
    """Votes grouped by (model i, model j, score of i): 1 win, 0 loss, 0.5 tie."""

    models: tuple[str, ...]
    i: Ints
    j: Ints
    score: Floats
    count: Floats


def rate(votes: Sequence[Vote], options: RatingOptions | None = None) -> Ratings:
    """Fit ratings to ``votes`` and bootstrap their intervals (see the module docstring)."""
    options = options or RatingOptions()
    cells, dropped = _cells(votes, options.both_bad)
    if options.anchor is not None and options.anchor not in cells.models:
        raise InputError(
            f"anchor model {options.anchor!r} has no votes",
            field="anchor",
            hint=f"one of {', '.join(cells.models)}",
        )
    if options.prior == 0:
        _require_mle(cells)
    theta = _fit(cells, cells.count, options.prior)
    points = _points(theta, cells.models, options)
    replicas = _bootstrap(cells, theta, options)
    tail = (1 - options.confidence) / 2 * 100
    low, high = (
        np.percentile(replicas, [tail, 100 - tail], axis=0) if len(replicas) else (points, points)
    )
    wins, losses, ties = _records(cells)
    per_nat = options.scale / math.log(options.base)  # rating points per unit of θ
    rows = [
        ModelRating(
            model,
            rating=float(points[x]),
            lower=float(low[x]),
            upper=float(high[x]),
            log_strength=float((points[x] - options.anchor_rating) / per_nat),
            wins=int(wins[x]),
            losses=int(losses[x]),
            ties=int(ties[x]),
        )
        for x, model in enumerate(cells.models)
    ]
    rows.sort(key=lambda r: (-r.rating, r.model))
    order = [cells.models.index(r.model) for r in rows]
    return Ratings(tuple(rows), _win_rates(cells, order), int(cells.count.sum()), dropped, options)


def fit_log_strengths(
    votes: Sequence[Vote], *, both_bad: BothBad = "tie", prior: float = 1.0
) -> dict[str, float]:
    """θ per model (natural log-strengths, mean zero): the point estimate alone."""
    cells, _ = _cells(votes, both_bad)
    if prior == 0:
        _require_mle(cells)
    theta = _fit(cells, cells.count, prior)
    theta -= theta.mean()
    return {m: float(t) for m, t in zip(cells.models, theta, strict=True)}


def win_probability(
    rating_a: float, rating_b: float, scale: float = 400, base: float = 10
) -> float:
    """P(a beats b) that two ratings imply."""
    return 1 / (1 + base ** ((rating_b - rating_a) / scale))


def _cells(votes: Sequence[Vote], both_bad: BothBad) -> tuple[_Cells, int]:
    models = tuple(sorted({m for v in votes for m in (v.model_a, v.model_b)}))
    index = {m: x for x, m in enumerate(models)}
    scores = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}
    tally: dict[tuple[int, int, float], int] = {}
    dropped = 0
    for vote in votes:
        if vote.outcome == "both_bad" and both_bad == "drop":
            dropped += 1
            continue
        key = (index[vote.model_a], index[vote.model_b], scores[vote.outcome])
        tally[key] = tally.get(key, 0) + 1
    if not tally:
        raise InputError("no votes left to rate", hint="both-bad votes were dropped")
    keys = list(tally)
    cells = _Cells(
        models,
        np.array([k[0] for k in keys], dtype=np.int64),
        np.array([k[1] for k in keys], dtype=np.int64),
        np.array([k[2] for k in keys], dtype=np.float64),
        np.array([tally[k] for k in keys], dtype=np.float64),
    )
    return cells, dropped


def _fit(cells: _Cells, count: Floats, prior: float, start: Floats | None = None) -> Floats:
    """θ maximising the objective for votes weighted by ``count``: Newton steps (the
    objective is concave; its Hessian is a weighted graph Laplacian), each halved until the
    objective does not fall."""
    n = len(cells.models)
    per_vote = float(count.sum()) + prior * n  # so the tolerance means the same for any size
    theta = np.zeros(n) if start is None else start.copy()
    value = _objective(cells, count, prior, theta)
    for _ in range(_MAX_STEPS):
        grad, curvature = _derivatives(cells, count, prior, theta)
        if np.max(np.abs(grad)) < _GRADIENT_TOLERANCE * per_vote:
            break
        # Least squares: without a prior, shifting every θ changes nothing (a zero eigenvalue).
        step = np.linalg.lstsq(curvature, grad, rcond=None)[0]
        size = 1.0
        for _ in range(40):
            candidate = theta + size * step
            candidate_value = _objective(cells, count, prior, candidate)
            if candidate_value >= value:
                break
            size /= 2
        else:
            break  # no step uphill is left: at the optimum to rounding
        theta, value = candidate, candidate_value
    return theta


def _objective(cells: _Cells, count: Floats, prior: float, theta: Floats) -> float:
    """score·log σ(d) + (1 − score)·log σ(−d) summed over votes, with log σ(x) = −log(1 + e^−x),
    plus ``prior``/2 virtual wins and losses of every model against strength 0."""
    diff = theta[cells.i] - theta[cells.j]
    value = -np.sum(
        count * (cells.score * np.logaddexp(0, -diff) + (1 - cells.score) * np.logaddexp(0, diff))
    )
    if prior:
        value -= prior * 0.5 * np.sum(np.logaddexp(0, -theta) + np.logaddexp(0, theta))
    return float(value)


def _derivatives(
    cells: _Cells, count: Floats, prior: float, theta: Floats
) -> tuple[Floats, Floats]:
    """The objective's gradient and its negated Hessian (positive semi-definite)."""
    from scipy.special import expit

    n = len(theta)
    p = expit(theta[cells.i] - theta[cells.j])
    push = count * (cells.score - p)
    grad = (np.bincount(cells.i, push, n) - np.bincount(cells.j, push, n)).astype(np.float64)
    weight = count * p * (1 - p)
    curvature: Floats = np.zeros((n, n))
    np.add.at(curvature, (cells.i, cells.i), weight)
    np.add.at(curvature, (cells.j, cells.j), weight)
    np.add.at(curvature, (cells.i, cells.j), -weight)
    np.add.at(curvature, (cells.j, cells.i), -weight)
    if prior:
        q = expit(theta)
        grad += prior * (0.5 - q)
        curvature[np.diag_indices(n)] += prior * q * (1 - q)
    return grad, curvature


def _points(theta: Floats, models: Sequence[str], options: RatingOptions) -> Floats:
    """θ on the rating scale, the anchor (mean or named model) at ``anchor_rating``."""
    centre = theta.mean() if options.anchor is None else theta[list(models).index(options.anchor)]
    points: Floats = options.anchor_rating + options.scale / math.log(options.base) * (
        theta - centre
    )
    return points


def _bootstrap(cells: _Cells, theta: Floats, options: RatingOptions) -> Floats:
    """Ratings of ``rounds`` resamples of the votes (rows), each fitted from ``theta``."""
    rng = np.random.default_rng(options.seed)
    total = int(cells.count.sum())
    shares = cells.count / total
    replicas = np.empty((options.rounds, len(cells.models)))
    for r in range(options.rounds):
        count = rng.multinomial(total, shares).astype(np.float64)
        replicas[r] = _points(_fit(cells, count, options.prior, theta), cells.models, options)
    return replicas


def _records(cells: _Cells) -> tuple[Ints, Ints, Ints]:
    n = len(cells.models)
    wins, losses, ties = (np.zeros(n, dtype=np.int64) for _ in range(3))
    for i, j, score, count in zip(cells.i, cells.j, cells.score, cells.count, strict=True):
        if score == 0.5:
            ties[[i, j]] += int(count)
        else:
            winner, loser = (i, j) if score == 1 else (j, i)
            wins[winner] += int(count)
            losses[loser] += int(count)
    return wins, losses, ties


def _win_rates(cells: _Cells, order: Sequence[int]) -> WinRates:
    n = len(cells.models)
    won, met = np.zeros((n, n)), np.zeros((n, n))
    for i, j, score, count in zip(cells.i, cells.j, cells.score, cells.count, strict=True):
        won[i, j] += score * count
        won[j, i] += (1 - score) * count
        met[i, j] += count
        met[j, i] += count
    rate = tuple(
        tuple(float(won[a, b] / met[a, b]) if met[a, b] else None for b in order) for a in order
    )
    count = tuple(tuple(int(met[a, b]) for b in order) for a in order)
    return WinRates(tuple(cells.models[x] for x in order), rate, count)


def _require_mle(cells: _Cells) -> None:
    """Without a prior the estimate is finite only if every group of models has lost at
    least once (a tie counts) to a model outside it: the "beat" graph is strongly connected."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(cells.models)
    edges = [(i, j) for i, j, s in zip(cells.i, cells.j, cells.score, strict=True) if s > 0]
    edges += [(j, i) for i, j, s in zip(cells.i, cells.j, cells.score, strict=True) if s < 1]
    rows, cols = zip(*edges, strict=True)
    graph = coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(n, n))
    groups, label = connected_components(graph, directed=True, connection="strong")
    if groups == 1:
        return
    beaten = {label[j] for i, j in edges if label[i] != label[j]}
    unbeaten = next(g for g in range(groups) if g not in beaten)
    names = ", ".join(m for m, g in zip(cells.models, label, strict=True) if g == unbeaten)
    raise InputError(
        f"with prior 0 there are no finite maximum-likelihood ratings: {names} never lost "
        "to the other models",
        field="prior",
        hint="collect more votes, or use a prior > 0 (e.g. --prior 1)",
    )

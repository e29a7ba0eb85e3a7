"""Meta-evaluation: how well a judge's scores track human ratings.

Three levels, per criterion, each with Spearman ρ, Kendall τ-b and Pearson r (scipy):

- ``summary``: for each source document (``doc_id``), the correlation across the items
  written for it (one per system), averaged over documents — the summary-level
  correlation of G-Eval (Liu et al., 2023) and its released code. A document enters only
  with at least two items and non-constant judge *and* human values (a correlation with
  a constant is undefined; G-Eval's code skips those documents too); the documents left
  out are counted. ``n`` is the number of documents averaged.
- ``system``: the correlation of the per-system mean scores; ``n`` systems.
- ``dataset``: the correlation over all items; ``n`` items.

Each value has a percentile bootstrap 95% interval: documents, systems or items are
resampled with replacement (``bootstrap`` times, seeded by ``seed`` and the criterion's
name, so adding a criterion does not move another's interval). At summary level the
per-document correlations are resampled (the documents that entered the average);
resamples where a correlation is undefined (all values equal) are left out of the
percentiles. Items without a score on either side for a criterion are left out of that
criterion (and counted); items that name no ``doc_id`` (``system``) are left out of the
summary (system) level, whose ``items`` says how many entered.

Also here: Cohen's κ and the ROC AUC, for judges whose scores are labels.
"""

from __future__ import annotations

import math
import zlib
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from haechi.errors import InputError
from haechi.judge.human_data import ScoredItem, join_items, pair_keys

LEVELS = ("summary", "system", "dataset")
METHODS = ("spearman", "kendall", "pearson")

Array = NDArray[np.float64]


@dataclass(frozen=True)
class LevelResult:
    """One criterion at one level: correlations (``None`` where undefined), their 95%
    intervals (``None`` without bootstrap or when undefined), ``n`` (documents averaged,
    systems, or items), ``items`` (item pairs that entered) and ``skipped`` (summary
    level: documents left out for having fewer than two items or constant values)."""

    level: str
    n: int
    items: int
    values: dict[str, float | None]
    ci95: dict[str, tuple[float, float] | None]
    skipped: int = 0

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.values)
        out["n"] = self.n
        for name in METHODS:
            interval = self.ci95.get(name)
            out[f"{name}_ci95"] = list(interval) if interval else None
        out["items"] = self.items
        if self.level == "summary":
            out["skipped_documents"] = self.skipped
        return out


@dataclass(frozen=True)
class MetaResult:
    """Criterion → level → result; the ids only one side had (reported, never silently
    dropped); per criterion, the joined items lacking a score on either side."""

    levels: dict[str, dict[str, LevelResult]]
    only_judge: list[str] = field(default_factory=list)
    only_human: list[str] = field(default_factory=list)
    missing: dict[str, int] = field(default_factory=dict)

    def record(self) -> dict[str, dict[str, dict[str, Any]]]:
        """What ``meta.json`` holds: criterion → level → values, ``n`` and intervals."""
        return {c: {lv: r.record() for lv, r in by.items()} for c, by in self.levels.items()}


def meta_evaluate(
    judge: Sequence[ScoredItem],
    human: Sequence[ScoredItem],
    criteria: Sequence[str] | None = None,
    *,
    bootstrap: int = 1000,
    seed: int = 0,
) -> MetaResult:
    """Correlate judge and human scores (joined by id) on each criterion at the three
    levels. ``criteria`` defaults to those both sides score. Raises ``InputError`` when no
    id matches or a criterion is missing on one side."""
    if bootstrap < 0:
        raise InputError("must be 0 or more", field="bootstrap")
    if seed < 0:
        raise InputError("must be 0 or more", field="seed")
    joined = join_items(judge, human)
    if not joined.pairs:
        raise InputError(
            f"no item id is on both sides ({len(judge)} judge items, {len(human)} human)",
            hint="ids must match; G-Eval and SummEval rows use '<doc_id>/<system_id>'",
        )
    named = {c for j, _ in joined.pairs for c in j.scores}
    rated = {c for _, h in joined.pairs for c in h.scores}
    if criteria is None:
        order = [c for j, _ in joined.pairs for c in j.scores]
        criteria = [c for c in dict.fromkeys(order) if c in rated]
        if not criteria:
            raise InputError("the judge and the humans score no criterion in common")
    levels: dict[str, dict[str, LevelResult]] = {}
    missing: dict[str, int] = {}
    for criterion in criteria:
        for side, names in (("judge", named), ("human", rated)):
            if criterion not in names:
                raise InputError(f"no {side} score for criterion {criterion!r}", field="criteria")
        rows = []
        for j, h in joined.pairs:
            a, b = j.scores.get(criterion), h.scores.get(criterion)
            if a is not None and b is not None:
                rows.append((*pair_keys(j, h), a, b))
        missing[criterion] = len(joined.pairs) - len(rows)
        salt = zlib.crc32(criterion.encode("utf-8"))
        levels[criterion] = {
            level: _level(level, rows, bootstrap, np.random.default_rng([seed, salt, i]))
            for i, level in enumerate(LEVELS)
        }
    return MetaResult(levels, joined.only_judge, joined.only_human, missing)


def correlations(x: Sequence[float], y: Sequence[float]) -> dict[str, float | None]:
    """Spearman ρ, Kendall τ-b and Pearson r of two paired lists; all ``None`` with fewer
    than two pairs or when either side is constant."""
    if len(x) < 2 or _constant(x) or _constant(y):
        return dict.fromkeys(METHODS)
    values = (
        stats.spearmanr(x, y).statistic,
        stats.kendalltau(x, y).statistic,
        stats.pearsonr(x, y).statistic,
    )
    return {name: _finite(float(v)) for name, v in zip(METHODS, values, strict=True)}


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's κ of two raters' labels on the same items: (p_o − p_e) / (1 − p_e), with
    p_e from each rater's own label frequencies; ``None`` when p_e = 1 (one shared label)."""
    if len(a) != len(b) or not a:
        raise ValueError("two equally long, non-empty label lists are needed")
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    count_a: dict[Hashable, int] = defaultdict(int)
    count_b: dict[Hashable, int] = defaultdict(int)
    for x, y in zip(a, b, strict=True):
        count_a[x] += 1
        count_b[y] += 1
    expected = sum(count_a[k] * count_b[k] for k in count_a) / (n * n)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve of ``scores`` for binary ``labels`` (1 positive): the
    chance a positive outscores a negative, ties counting half (Mann–Whitney U / n₁n₀);
    ``None`` without both classes."""
    y = np.asarray(labels)
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    if not positives or not negatives:
        return None
    ranks = stats.rankdata(np.asarray(scores, dtype=float))
    u = float(ranks[y == 1].sum()) - positives * (positives + 1) / 2
    return u / (positives * negatives)


def _level(
    level: str, rows: list[tuple[str, str, float, float]], bootstrap: int, rng: np.random.Generator
) -> LevelResult:
    if level == "dataset":
        x = np.array([r[2] for r in rows], dtype=float)
        y = np.array([r[3] for r in rows], dtype=float)
        return _points(level, x, y, len(rows), bootstrap, rng)
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for doc_id, system, a, b in rows:
        name = doc_id if level == "summary" else system
        if name:  # an item that does not say its document or system cannot be grouped
            groups[name].append((a, b))
    items = sum(len(g) for g in groups.values())
    if level == "system":
        x = np.array([np.mean([a for a, _ in g]) for g in groups.values()], dtype=float)
        y = np.array([np.mean([b for _, b in g]) for g in groups.values()], dtype=float)
        return _points(level, x, y, items, bootstrap, rng)
    per_doc = []
    for pairs in groups.values():
        judged, rated = [p[0] for p in pairs], [p[1] for p in pairs]
        if len(pairs) >= 2 and not _constant(judged) and not _constant(rated):
            per_doc.append(correlations(judged, rated))
    skipped = len(groups) - len(per_doc)
    if not per_doc:
        none: dict[str, Any] = dict.fromkeys(METHODS)
        return LevelResult("summary", 0, items, none, none, skipped)
    matrix = np.array([[d[m] for m in METHODS] for d in per_doc], dtype=float)
    means = matrix.mean(axis=0)
    values: dict[str, float | None] = {m: float(means[i]) for i, m in enumerate(METHODS)}
    ci95: dict[str, tuple[float, float] | None] = dict.fromkeys(METHODS)
    if bootstrap:
        picks = rng.integers(0, len(per_doc), size=(bootstrap, len(per_doc)))
        replicates = matrix[picks].mean(axis=1)  # (bootstrap, methods)
        ci95 = {m: _interval(replicates[:, i]) for i, m in enumerate(METHODS)}
    return LevelResult("summary", len(per_doc), items, values, ci95, skipped)


def _points(
    level: str, x: Array, y: Array, items: int, bootstrap: int, rng: np.random.Generator
) -> LevelResult:
    """Correlations over points (systems or items), resampling the points."""
    values = correlations(x.tolist(), y.tolist())
    ci95: dict[str, tuple[float, float] | None] = dict.fromkeys(METHODS)
    if bootstrap and len(x) >= 2:
        picks = rng.integers(0, len(x), size=(bootstrap, len(x)))
        xs, ys = x[picks], y[picks]
        pearson = _rowwise_pearson(xs, ys)
        spearman = _rowwise_pearson(stats.rankdata(xs, axis=1), stats.rankdata(ys, axis=1))
        kendall = np.array(
            [
                np.nan if _constant(a) or _constant(b) else stats.kendalltau(a, b).statistic
                for a, b in zip(xs, ys, strict=True)
            ],
            dtype=float,
        )
        ci95 = {
            "spearman": _interval(spearman),
            "kendall": _interval(kendall),
            "pearson": _interval(pearson),
        }
    return LevelResult(level, len(x), items, values, ci95)


def _rowwise_pearson(xs: Array, ys: Array) -> Array:
    """Pearson r of each row pair; NaN where a row is constant."""
    constant = (np.ptp(xs, axis=1) == 0) | (np.ptp(ys, axis=1) == 0)
    dx = xs - xs.mean(axis=1, keepdims=True)
    dy = ys - ys.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (dx * dy).sum(axis=1) / np.sqrt((dx * dx).sum(axis=1) * (dy * dy).sum(axis=1))
    r[constant] = np.nan
    return np.clip(r, -1.0, 1.0)


def _interval(replicates: Array) -> tuple[float, float] | None:
    finite = replicates[np.isfinite(replicates)]
    if not len(finite):
        return None
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)


def _constant(values: Sequence[float] | Array) -> bool:
    return bool(np.ptp(np.asarray(values, dtype=float)) == 0)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None

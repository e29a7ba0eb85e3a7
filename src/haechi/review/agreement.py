"""Agreement between human reviewers: Krippendorff's α, Cohen's κ, percent agreement.

Input is a flat list of ``Rating(item, reviewer, value)``; ``None`` means the reviewer did
not rate that item (or abstained). Reviewers need not rate the same items: α handles
missing data, κ is computed per reviewer pair over the items both rated.

Undefined values are ``math.nan``, never an exception:

- α is NaN when no item has two ratings, or when all pairable ratings (those of items
  with at least two) have one value: the expected disagreement D_e is then 0 and
  α = 1 − D_o/D_e is 0/0 — data that do not vary say nothing about reliability, so not
  α = 1. The ``krippendorff`` package raises or warns here; we decide before calling it.
- κ is NaN when p_e = 1: both reviewers gave one and the same value to every shared item,
  so p_o = p_e = 1 and κ = 0/0. The mean of pairwise κ leaves such pairs out.
- Percent agreement is NaN when no item has two ratings.

``field_agreement`` applies these to a label field by its kind (choice, multi, boolean,
ordinal, text), ``agreement_by_group`` per group of items (e.g. red-team category).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import krippendorff
import numpy as np
from numpy.typing import NDArray

from haechi.errors import InputError
from haechi.judge.meta_eval import cohen_kappa as _kappa_of_lists

Value = str | int | bool
MultiValue = frozenset[str] | tuple[str, ...]
Level = Literal["nominal", "ordinal", "interval"]
FieldKind = Literal["choice", "multi", "boolean", "ordinal", "text"]
Weights = Literal["linear", "quadratic"]


@dataclass(frozen=True)
class Rating:
    """One reviewer's value for one item; ``None``: not rated. ``multi`` fields give the
    chosen categories as a frozenset or tuple (empty: rated, nothing chosen); a list, as
    stored labels hold it, is read the same way."""

    item: str
    reviewer: str
    value: Value | MultiValue | None


@dataclass(frozen=True)
class ReliabilityData:
    """The reviewers × items matrix α is computed on: ``matrix[r, i]`` is the code of
    ``reviewers[r]``'s value for ``items[i]``, NaN where missing; ``domain`` lists the
    codes of every possible value in order (``codes`` maps values to codes)."""

    reviewers: list[str]
    items: list[str]
    matrix: NDArray[np.float64]
    codes: dict[Hashable, float]
    domain: list[float]


@dataclass(frozen=True)
class PairKappa:
    """Cohen's κ of two reviewers over the ``n_items`` items both rated."""

    reviewer_a: str
    reviewer_b: str
    kappa: float
    n_items: int


@dataclass(frozen=True)
class AgreementStats:
    """Agreement on one variable.

    ``kappa``: mean pairwise κ (quadratic-weighted for ordinal fields); ``plain_kappa``:
    mean unweighted pairwise κ (equal to ``kappa`` for other kinds). ``kappa_pairs``:
    reviewer pairs with a defined κ in those means; ``kappa_items``: their shared items,
    summed over pairs. ``items``: items with at least two ratings; ``ratings``: ratings
    given (``None`` not counted). ``percent_agreement`` is a share in [0, 1].
    """

    alpha: float
    kappa: float
    plain_kappa: float
    kappa_pairs: int
    kappa_items: int
    percent_agreement: float
    items: int
    ratings: int


@dataclass(frozen=True)
class FieldAgreement:
    """Agreement on one label field. ``level`` is α's level of measurement. ``stats`` is
    the field's own agreement (``None`` for ``multi``); ``categories`` holds one entry per
    category of a ``multi`` field (its present/absent agreement) and is empty otherwise."""

    kind: FieldKind
    level: Level
    stats: AgreementStats | None
    categories: dict[str, AgreementStats] = field(default_factory=dict)


def reliability_matrix(
    ratings: Iterable[Rating], level: Level, value_order: Sequence[Hashable] | None = None
) -> ReliabilityData:
    """Reviewers (sorted) × items (sorted, those with a rating) with numeric codes.

    Codes: ``value_order`` positions 0, 1, … when given (required for ordinal or interval
    values that are not numbers); else numbers stand for themselves (ordinal, interval)
    or values get 0, 1, … in order of first appearance (nominal, where codes carry no
    order). Raises ``InputError`` on a value outside ``value_order`` or a repeated rating.
    """
    table = _by_item(ratings)
    reviewers = sorted({r for row in table.values() for r in row})
    items = sorted(table)
    codes = _codes([v for row in table.values() for v in row.values()], level, value_order)
    matrix = np.full((len(reviewers), len(items)), np.nan)
    row_of = {r: i for i, r in enumerate(reviewers)}
    for column, item in enumerate(items):
        for reviewer, value in table[item].items():
            matrix[row_of[reviewer], column] = codes[value]
    return ReliabilityData(reviewers, items, matrix, codes, sorted(set(codes.values())))


def krippendorff_alpha(
    ratings: Iterable[Rating], level: Level, value_order: Sequence[Hashable] | None = None
) -> float:
    """Krippendorff's α (the ``krippendorff`` package) at ``level``; NaN when undefined
    (no item with two ratings, or one value only among pairable ratings)."""
    data = reliability_matrix(ratings, level, value_order)
    pairable = data.matrix[:, (~np.isnan(data.matrix)).sum(axis=0) >= 2]
    if np.unique(pairable[~np.isnan(pairable)]).size < 2:
        return math.nan
    return float(
        krippendorff.alpha(
            reliability_data=data.matrix, value_domain=data.domain, level_of_measurement=level
        )
    )


def cohen_kappa(pairs: Sequence[tuple[Hashable, Hashable]]) -> float:
    """Unweighted Cohen's κ = (p_o − p_e) / (1 − p_e) of (first, second) reviewer value
    pairs, p_e from each reviewer's own value frequencies; NaN when p_e = 1 or no pairs."""
    if not pairs:
        return math.nan
    first, second = zip(*pairs, strict=True)
    kappa = _kappa_of_lists(first, second)  # the judge's meta-evaluation κ; None if p_e = 1
    return math.nan if kappa is None else kappa


def weighted_kappa(
    pairs: Sequence[tuple[Hashable, Hashable]],
    value_order: Sequence[Hashable],
    weights: Weights = "quadratic",
) -> float:
    """Cohen's weighted κ = 1 − Σ w·observed / Σ w·expected for ordered values, with
    disagreement weights |i − j| / (k − 1) (linear) or its square (quadratic) between
    positions in ``value_order``; NaN when the expected disagreement is 0 (p_e = 1)."""
    position = _positions(itertools.chain.from_iterable(pairs), value_order)
    k = len(value_order)
    table = np.zeros((k, k))
    for a, b in pairs:
        table[position[a], position[b]] += 1
    if k < 2 or not pairs:
        return math.nan
    observed = table / table.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    distance = np.abs(np.subtract.outer(np.arange(k), np.arange(k))) / (k - 1)
    w = distance if weights == "linear" else distance**2
    chance = float((w * expected).sum())
    return math.nan if chance == 0 else 1 - float((w * observed).sum()) / chance


def pairwise_kappa(
    ratings: Iterable[Rating],
    *,
    min_overlap: int = 2,
    value_order: Sequence[Hashable] | None = None,
    weights: Weights | None = None,
) -> list[PairKappa]:
    """κ for every reviewer pair (names sorted) sharing at least ``min_overlap`` rated
    items; unweighted, or ``weights``-weighted over ``value_order`` (numbers sort)."""
    shared: dict[tuple[str, str], list[tuple[Hashable, Hashable]]] = defaultdict(list)
    table = _by_item(ratings)
    for row in table.values():
        for a, b in itertools.combinations(sorted(row), 2):
            shared[a, b].append((row[a], row[b]))
    values = (v for row in table.values() for v in row.values())
    order = value_order or (_numbers(values) if weights else [])
    return [
        PairKappa(a, b, weighted_kappa(v, order, weights) if weights else cohen_kappa(v), len(v))
        for (a, b), v in sorted(shared.items())
        if len(v) >= min_overlap
    ]


def mean_kappa(pairs: Iterable[PairKappa]) -> float:
    """The mean of the defined pairwise κ (Light's κ for many raters); NaN when none."""
    defined = [p.kappa for p in pairs if not math.isnan(p.kappa)]
    return sum(defined) / len(defined) if defined else math.nan


def percent_agreement(ratings: Iterable[Rating]) -> float:
    """Of all pairs of ratings given to the same item, the share with equal values
    (pairs pooled over items, so an item with m ratings weighs m(m − 1)/2 pairs)."""
    agree = total = 0
    for row in _by_item(ratings).values():
        for a, b in itertools.combinations(row.values(), 2):
            agree += a == b
            total += 1
    return agree / total if total else math.nan


def majority_label(ratings: Iterable[Rating]) -> Hashable | None:
    """The most frequent value among one item's ratings as a suggested gold label;
    ``None`` on a tie for first place or without ratings."""
    ratings = list(ratings)
    if len({r.item for r in ratings}) > 1:
        raise InputError("majority_label takes the ratings of one item", field="item")
    top = Counter(r.value for r in ratings if r.value is not None).most_common(2)
    if not top or (len(top) == 2 and top[0][1] == top[1][1]):
        return None
    return top[0][0]


def field_agreement(
    ratings: Iterable[Rating],
    kind: FieldKind,
    value_order: Sequence[Hashable] | None = None,
    categories: Sequence[str] | None = None,
    *,
    min_overlap: int = 2,
) -> FieldAgreement:
    """α, mean pairwise κ and percent agreement of one field of kind ``kind``.

    ``choice``/``boolean``: nominal α. ``ordinal``: ordinal α and quadratic-weighted κ
    (plus the unweighted κ), ordered by ``value_order`` (numbers sort without it).
    ``multi``: per category of ``categories`` (default: every category chosen at least
    once), nominal agreement on whether it was chosen. ``text`` raises ``InputError``.
    """
    ratings = list(ratings)
    if kind == "text":
        raise InputError("text fields have no agreement statistics", field="kind")
    if kind == "multi":
        chosen = _categories(ratings)
        names = list(categories) if categories is not None else sorted(chosen)
        unknown = chosen - set(names)
        if unknown:
            raise InputError(
                f"categories {sorted(unknown)} are not in the field's categories",
                field="categories",
                hint=f"the categories are {names}",
            )
        per = {n: _stats(_presence(ratings, n), "nominal", None, min_overlap) for n in names}
        return FieldAgreement(kind, "nominal", None, per)
    level: Level = "ordinal" if kind == "ordinal" else "nominal"
    return FieldAgreement(kind, level, _stats(ratings, level, value_order, min_overlap))


def agreement_by_group(
    ratings: Iterable[Rating],
    groups: Mapping[str, str],
    kind: FieldKind,
    value_order: Sequence[Hashable] | None = None,
    categories: Sequence[str] | None = None,
    *,
    min_overlap: int = 2,
) -> dict[str, FieldAgreement]:
    """``field_agreement`` per group (``groups`` maps item → group, e.g. a red-team
    category), groups sorted by name; a ``multi`` field keeps the same categories in
    every group. Raises ``InputError`` for a rated item that has no group."""
    ratings = list(ratings)
    missing = sorted({r.item for r in ratings} - set(groups))
    if missing:
        raise InputError(
            f"{len(missing)} items have no group, e.g. {missing[0]!r}",
            field="groups",
            hint="map every rated item to a group",
        )
    if kind == "multi" and categories is None:
        categories = sorted(_categories(ratings))
    by_group: dict[str, list[Rating]] = defaultdict(list)
    for r in ratings:
        by_group[groups[r.item]].append(r)
    return {
        name: field_agreement(
            by_group[name], kind, value_order, categories, min_overlap=min_overlap
        )
        for name in sorted(by_group)
    }


def _stats(
    ratings: list[Rating], level: Level, value_order: Sequence[Hashable] | None, min_overlap: int
) -> AgreementStats:
    """Ordinal fields get quadratic-weighted κ besides the plain one."""
    weights: Weights | None = "quadratic" if level == "ordinal" else None
    pairs = pairwise_kappa(
        ratings, min_overlap=min_overlap, value_order=value_order, weights=weights
    )
    plain = pairwise_kappa(ratings, min_overlap=min_overlap) if weights else pairs
    defined = [p for p in pairs if not math.isnan(p.kappa)]
    table = _by_item(ratings)
    return AgreementStats(
        alpha=krippendorff_alpha(ratings, level, value_order),
        kappa=mean_kappa(pairs),
        plain_kappa=mean_kappa(plain),
        kappa_pairs=len(defined),
        kappa_items=sum(p.n_items for p in defined),
        percent_agreement=percent_agreement(ratings),
        items=sum(len(row) >= 2 for row in table.values()),
        ratings=sum(len(row) for row in table.values()),
    )


def _by_item(ratings: Iterable[Rating]) -> dict[str, dict[str, Hashable]]:
    """item → reviewer → value, ratings without a value left out."""
    table: dict[str, dict[str, Hashable]] = defaultdict(dict)
    for r in ratings:
        if r.value is None:
            continue
        if r.reviewer in table[r.item]:
            raise InputError(
                f"reviewer {r.reviewer!r} rated item {r.item!r} twice",
                field="reviewer",
                hint="give one rating per reviewer and item",
            )
        table[r.item][r.reviewer] = r.value
    return table


def _codes(
    values: list[Hashable], level: Level, value_order: Sequence[Hashable] | None
) -> dict[Hashable, float]:
    if value_order is not None:
        return {v: float(i) for v, i in _positions(values, value_order).items()}
    if level == "nominal":
        return {v: float(i) for i, v in enumerate(dict.fromkeys(values))}
    _numbers(values)
    return {v: float(v) for v in values}  # type: ignore[arg-type]  # checked numbers


def _positions(values: Iterable[Hashable], value_order: Sequence[Hashable]) -> dict[Hashable, int]:
    """value → position in ``value_order``; ``InputError`` if a value is not in it."""
    position = {v: i for i, v in enumerate(value_order)}
    if len(position) != len(value_order):
        raise InputError("value_order repeats a value", field="value_order")
    for v in values:
        if v not in position:
            raise InputError(
                f"value {v!r} is not in value_order",
                field="value",
                hint=f"value_order is {list(value_order)}",
            )
    return position


def _numbers(values: Iterable[Hashable]) -> list[float]:
    """The distinct values, sorted, if all are numbers (not booleans); else InputError."""
    found = set()
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise InputError(
                f"ordered value {v!r} is not a number",
                field="value_order",
                hint="pass value_order to say how the values are ordered",
            )
        found.add(float(v))
    return sorted(found)


def _chosen(rating: Rating) -> frozenset[str]:
    """The categories a ``multi`` rating chose (none for an unrated one)."""
    if rating.value is None:
        return frozenset()
    if not isinstance(rating.value, frozenset | tuple | list | set):
        raise InputError(f"a multi value must be a collection of categories, not {rating.value!r}")
    return frozenset(rating.value)


def _categories(ratings: list[Rating]) -> set[str]:
    return set().union(*(_chosen(r) for r in ratings))


def _presence(ratings: list[Rating], category: str) -> list[Rating]:
    """Each ``multi`` rating as whether it chose ``category`` (``None`` stays ``None``)."""
    return [
        Rating(r.item, r.reviewer, None if r.value is None else category in _chosen(r))
        for r in ratings
    ]

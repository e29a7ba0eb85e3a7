"""Agreement statistics: hand-computed examples, the ``krippendorff`` package on random
data, an independent κ reference, and the undefined cases."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import krippendorff
import numpy as np
import pytest

from haechi.errors import InputError
from haechi.review.agreement import (
    Rating,
    agreement_by_group,
    cohen_kappa,
    field_agreement,
    krippendorff_alpha,
    majority_label,
    mean_kappa,
    pairwise_kappa,
    percent_agreement,
    reliability_matrix,
    weighted_kappa,
)

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: four
# observers, twelve units, values 1-5, "." missing.
KRIPPENDORFF_2011 = {
    "A": "1 2 3 3 2 1 4 1 2 . . .",
    "B": "1 2 3 3 2 2 4 1 2 5 . 3",
    "C": ". 3 3 3 2 3 4 2 2 5 1 .",
    "D": "1 2 3 3 2 4 4 1 2 5 1 .",
}


def same(a: Any, b: Any) -> bool:
    """Dataclasses with equal fields, NaN equal to NaN."""
    return asdict(a) == pytest.approx(asdict(b), nan_ok=True)


def ratings_of(rows: Mapping[str, Sequence[Any]]) -> list[Rating]:
    """Reviewer → values by item position ("u0", "u1", ...), ``None`` or "." missing."""
    return [
        Rating(f"u{i}", reviewer, None if v in (None, ".") else v)
        for reviewer, values in rows.items()
        for i, v in enumerate(values)
    ]


def krippendorff_2011() -> list[Rating]:
    return ratings_of(
        {
            c: [v if v == "." else int(v) for v in row.split()]
            for c, row in KRIPPENDORFF_2011.items()
        }
    )


def test_krippendorff_2011_nominal_example_by_hand() -> None:
    """Units 1-11 are pairable (unit 12 has one value): n = 40 pairable values.

    Disagreeing units, Σ over ordered pairs of unequal values / (m_u − 1):
    unit 2 (2,2,2,3): 6/3 = 2; unit 6 (1,2,3,4): 12/3 = 4; unit 8 (1,1,1,2): 6/3 = 2.
    D_o = 8/40 = 0.2. Value totals n_1..n_5 = 9, 13, 10, 5, 3 (Σ n_c² = 384), so
    D_e = (40² − 384) / (40·39) = 1216/1560. α = 1 − 0.2·1560/1216 = 904/1216 = 0.7434,
    the 0.743 Krippendorff reports; his interval α for the same data is 0.849.
    """
    ratings = krippendorff_2011()
    assert krippendorff_alpha(ratings, "nominal") == pytest.approx(904 / 1216)
    assert round(krippendorff_alpha(ratings, "nominal"), 3) == 0.743
    assert round(krippendorff_alpha(ratings, "interval"), 3) == 0.849
    data = reliability_matrix(ratings, "interval")
    assert data.reviewers == ["A", "B", "C", "D"]
    assert data.matrix.shape == (4, 12)  # unit 12 is kept: the package ignores it
    assert data.domain == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_ordinal_example_by_hand() -> None:
    """Two reviewers, four items, order low < mid < high:
    A = low, mid, high, mid; B = low, high, high, mid. n = 8; n_low, n_mid, n_high = 2, 3, 3.

    Ordinal distances δ²(c, k) = (Σ_{g=c..k} n_g − (n_c + n_k)/2)²: low-mid (5 − 2.5)² =
    6.25, mid-high (6 − 3)² = 9, low-high (8 − 2.5)² = 30.25. Observed: one mid/high unit,
    two ordered pairs, Σ o·δ² = 18. Expected: Σ_{c≠k} n_c n_k δ² = 2·(6·6.25 + 6·30.25 +
    9·9) = 600. α = 1 − (n − 1)·18/600 = 1 − 126/600 = 0.79. Nominal: 1 − 7·2/42 = 2/3.
    """
    order = ["low", "mid", "high"]
    ratings = ratings_of({"A": ["low", "mid", "high", "mid"], "B": ["low", "high", "high", "mid"]})
    assert krippendorff_alpha(ratings, "ordinal", order) == pytest.approx(0.79)
    assert krippendorff_alpha(ratings, "nominal") == pytest.approx(2 / 3)
    result = field_agreement(ratings, "ordinal", order)
    assert result.level == "ordinal" and result.stats is not None
    assert result.stats.alpha == pytest.approx(0.79)
    # unweighted: p_o = 3/4, p_e = (1·1 + 2·1 + 1·2)/16 = 5/16 → κ = (12/16 − 5/16)/(11/16)
    assert result.stats.plain_kappa == pytest.approx(7 / 11)
    # quadratic weights 0, 1/4, 1: observed 1/4·1/4; expected Σ w·p_a·p_b = 20/64 → 1 − 0.2
    assert result.stats.kappa == pytest.approx(1 - (1 / 16) / (20 / 64))
    assert (result.stats.items, result.stats.ratings, result.stats.kappa_items) == (4, 8, 4)
    assert result.stats.percent_agreement == 0.75


def pairs_from_table(table: list[list[int]], labels: list[str]) -> list[tuple[str, str]]:
    """(first, second) pairs with ``table[i][j]`` copies of (labels[i], labels[j])."""
    return [
        (labels[i], labels[j])
        for i, row in enumerate(table)
        for j, count in enumerate(row)
        for _ in range(count)
    ]


def test_cohen_kappa_two_by_two_by_hand() -> None:
    """50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15. p_o = 35/50 = 0.7; first says
    yes 25/50, second 30/50: p_e = 0.5·0.6 + 0.5·0.4 = 0.5; κ = (0.7 − 0.5)/0.5 = 0.4."""
    pairs = pairs_from_table([[20, 5], [10, 15]], ["yes", "no"])
    assert cohen_kappa(pairs) == pytest.approx(0.4)


def test_cohen_and_weighted_kappa_three_categories_by_hand() -> None:
    """40 items, rows the first reviewer: [[10, 2, 3], [1, 8, 1], [4, 1, 10]].
    p_o = 28/40; marginals 15, 10, 15 and 15, 11, 14: p_e = (225 + 110 + 210)/1600 =
    545/1600; κ = (1120 − 545)/(1600 − 545) = 575/1055 = 115/211.
    Quadratic weights (0, 1/4, 1): observed Σ w·count = 8.25 of 40, expected Σ w·r_i·c_j =
    590 of 1600: κ_w = 1 − (8.25/40)/(590/1600) = 26/59. Linear (0, 1/2, 1): 9.5 and 745:
    κ_w = 1 − (9.5/40)/(745/1600) = 73/149."""
    order = ["x", "y", "z"]
    pairs = pairs_from_table([[10, 2, 3], [1, 8, 1], [4, 1, 10]], order)
    assert cohen_kappa(pairs) == pytest.approx(115 / 211)
    assert weighted_kappa(pairs, order, "quadratic") == pytest.approx(26 / 59)
    assert weighted_kappa(pairs, order, "linear") == pytest.approx(73 / 149)


def random_ratings(
    seed: int, values: Sequence[Any], reviewers: int = 6, items: int = 40, missing: float = 0.35
) -> tuple[list[Rating], list[list[Any]]]:
    """Random ratings and the same data as rows (reviewer) of cells (item), None missing."""
    rng = np.random.default_rng(seed)
    rows = [
        [
            None if rng.random() < missing else values[int(rng.integers(len(values)))]
            for _ in range(items)
        ]
        for _ in range(reviewers)
    ]
    ratings = [
        Rating(f"item-{i}", f"reviewer-{r}", value)
        for r, row in enumerate(rows)
        for i, value in enumerate(row)
    ]
    rng.shuffle(ratings)  # input order must not matter
    return ratings, rows


@pytest.mark.parametrize("seed", range(5))
def test_alpha_matches_the_package_on_random_data(seed: int) -> None:
    """Our matrix building against the package fed directly: nominal and ordinal on
    string values (the package reads string matrices itself, "nan" missing), interval on
    numbers (float matrix, NaN missing)."""
    order = ["none", "low", "mid", "high"]
    ratings, rows = random_ratings(seed, order)
    strings = np.array([["nan" if v is None else v for v in row] for row in rows])
    expected_nominal = krippendorff.alpha(strings, level_of_measurement="nominal")
    expected_ordinal = krippendorff.alpha(
        strings, level_of_measurement="ordinal", value_domain=order
    )
    assert krippendorff_alpha(ratings, "nominal") == pytest.approx(expected_nominal, abs=1e-12)
    assert krippendorff_alpha(ratings, "ordinal", order) == pytest.approx(
        expected_ordinal, abs=1e-12
    )
    numbers, number_rows = random_ratings(seed + 100, [1, 2, 3, 4, 5])
    floats = np.array([[np.nan if v is None else v for v in row] for row in number_rows], float)
    for level in ("interval", "ordinal"):
        expected = krippendorff.alpha(floats, level_of_measurement=level)
        assert krippendorff_alpha(numbers, level) == pytest.approx(expected, abs=1e-12)


def reference_kappa(first: list[int], second: list[int], k: int, power: int | None) -> float:
    """κ from a confusion matrix; ``power`` None: unweighted, 1 linear, 2 quadratic."""
    table = np.zeros((k, k))
    np.add.at(table, (np.array(first), np.array(second)), 1)
    n = table.sum()
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    if power is None:
        p_o, p_e = np.trace(table) / n, float(rows @ cols) / n**2
        return float((p_o - p_e) / (1 - p_e))
    observed = expected = 0.0
    for i in range(k):
        for j in range(k):
            w = (abs(i - j) / (k - 1)) ** power
            observed += w * table[i, j] / n
            expected += w * rows[i] * cols[j] / n**2
    return 1 - observed / expected


@pytest.mark.parametrize("seed", range(5))
def test_kappa_matches_a_confusion_matrix_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = ["a", "b", "c", "d"]
    first = rng.integers(4, size=60).tolist()
    # the second reviewer copies the first 60% of the time, so κ is well above 0
    second = [x if rng.random() < 0.6 else int(rng.integers(4)) for x in first]
    pairs = [(labels[a], labels[b]) for a, b in zip(first, second, strict=True)]
    assert cohen_kappa(pairs) == pytest.approx(reference_kappa(first, second, 4, None))
    assert weighted_kappa(pairs, labels, "linear") == pytest.approx(
        reference_kappa(first, second, 4, 1)
    )
    assert weighted_kappa(pairs, labels, "quadratic") == pytest.approx(
        reference_kappa(first, second, 4, 2)
    )


def test_pairwise_kappa_keeps_pairs_with_enough_overlap() -> None:
    ratings = ratings_of(
        {
            "ann": ["a", "b", "a", "b", "a", None, None],
            "bo": ["a", "b", "b", "b", None, None, None],
            "cy": [None, None, None, None, "a", "b", None],  # shares one item with ann
            "di": [None, None, None, None, None, None, "a"],  # shares none
        }
    )
    pairs = pairwise_kappa(ratings)
    assert [(p.reviewer_a, p.reviewer_b, p.n_items) for p in pairs] == [("ann", "bo", 4)]
    # ann a,b,a,b / bo a,b,b,b: p_o = 3/4, p_e = (2·1 + 2·3)/16 = 1/2 → κ = 1/2
    assert pairs[0].kappa == pytest.approx(0.5)
    loose = pairwise_kappa(ratings, min_overlap=1)
    assert [(p.reviewer_a, p.reviewer_b) for p in loose] == [("ann", "bo"), ("ann", "cy")]
    assert math.isnan(loose[1].kappa)  # one shared item, both "a": p_e = 1
    assert mean_kappa(loose) == pytest.approx(0.5)  # the undefined pair is left out
    stats = field_agreement(ratings, "choice", min_overlap=1).stats
    assert stats is not None and (stats.kappa_pairs, stats.kappa_items) == (1, 4)


def test_undefined_cases_are_nan() -> None:
    assert math.isnan(krippendorff_alpha([], "nominal"))
    one_reviewer = ratings_of({"ann": ["a", "b", "a"]})
    assert math.isnan(krippendorff_alpha(one_reviewer, "nominal"))
    assert math.isnan(percent_agreement(one_reviewer))
    assert pairwise_kappa(one_reviewer) == []
    assert math.isnan(mean_kappa([]))
    same = ratings_of({"ann": ["a", "a", "a"], "bo": ["a", "a", "a"]})
    assert math.isnan(krippendorff_alpha(same, "nominal"))  # D_e = 0: documented as NaN
    assert percent_agreement(same) == 1.0
    assert math.isnan(cohen_kappa([("a", "a"), ("a", "a")]))  # p_e = 1
    assert math.isnan(cohen_kappa([]))
    assert math.isnan(weighted_kappa([(1, 1), (1, 1)], [1, 2, 3]))
    # item u2 has a lone "b": not pairable, so the pairable values are all "a"
    lone = ratings_of({"ann": ["a", "a", "b"], "bo": ["a", "a", None]})
    assert math.isnan(krippendorff_alpha(lone, "nominal"))
    # no item rated twice, several values
    apart = ratings_of({"ann": ["a", None], "bo": [None, "b"]})
    assert math.isnan(krippendorff_alpha(apart, "nominal"))
    stats = field_agreement(same, "choice").stats
    assert stats is not None and math.isnan(stats.alpha) and math.isnan(stats.kappa)
    assert stats.kappa_pairs == 0


def test_multi_is_scored_per_category_as_present_or_absent() -> None:
    rows: dict[str, list[Any]] = {
        "ann": [("hate",), ("hate", "sexual"), (), ("crime",), None],
        "bo": [("hate",), ("sexual",), ("crime",), ("crime",), ("hate",)],
        "cy": [("hate", "crime"), None, (), ("crime",), ("hate",)],
    }
    ratings = ratings_of(rows)
    result = field_agreement(ratings, "multi", categories=["hate", "sexual", "crime", "self"])
    assert result.stats is None and list(result.categories) == ["hate", "sexual", "crime", "self"]
    for category, stats in result.categories.items():
        as_bool = ratings_of(
            {r: [None if v is None else category in v for v in vs] for r, vs in rows.items()}
        )
        expected = field_agreement(as_bool, "boolean").stats
        assert expected is not None and same(stats, expected)
    assert math.isnan(result.categories["self"].alpha)  # never chosen: one value only
    assert list(field_agreement(ratings, "multi").categories) == ["crime", "hate", "sexual"]
    # stored labels hold lists: read the same as tuples
    as_lists = ratings_of(
        {r: [None if v is None else list(v) for v in vs] for r, vs in rows.items()}
    )
    from_lists = field_agreement(as_lists, "multi").categories
    for category, stats in field_agreement(ratings, "multi").categories.items():
        assert same(from_lists[category], stats)


def test_agreement_by_group_is_field_agreement_of_each_group() -> None:
    ratings, _ = random_ratings(7, ["yes", "no"])
    groups = {f"item-{i}": "even" if i % 2 == 0 else "odd" for i in range(40)}
    result = agreement_by_group(ratings, groups, "choice")
    assert list(result) == ["even", "odd"]
    for name, agreement in result.items():
        subset = [r for r in ratings if groups[r.item] == name]
        assert agreement.stats is not None and agreement.stats.items > 5
        assert same(agreement.stats, field_agreement(subset, "choice").stats)
    with pytest.raises(InputError, match="no group"):
        agreement_by_group(ratings, {"item-0": "even"}, "choice")


def test_majority_label_suggests_gold_and_gives_up_on_ties() -> None:
    def item(*values: Any) -> list[Rating]:
        return [Rating("x", f"r{i}", v) for i, v in enumerate(values)]

    assert majority_label(item("a", "b", "a", None)) == "a"
    assert majority_label(item("a", "b", "c")) is None
    assert majority_label(item("a", "b")) is None
    assert majority_label(item(None)) is None
    with pytest.raises(InputError):
        majority_label([Rating("x", "r", "a"), Rating("y", "r", "a")])


def test_bad_input_is_an_input_error() -> None:
    with pytest.raises(InputError, match="twice"):
        krippendorff_alpha([Rating("x", "r", "a"), Rating("x", "r", "b")], "nominal")
    words = ratings_of({"ann": ["low", "high"], "bo": ["low", "low"]})
    with pytest.raises(InputError, match="not a number"):
        krippendorff_alpha(words, "ordinal")
    with pytest.raises(InputError, match="not in value_order"):
        krippendorff_alpha(words, "ordinal", ["low", "mid"])
    with pytest.raises(InputError, match="repeats"):
        krippendorff_alpha(words, "ordinal", ["low", "high", "low"])
    with pytest.raises(InputError, match="text fields"):
        field_agreement(words, "text")
    with pytest.raises(InputError, match="not in the field's categories"):
        field_agreement(ratings_of({"ann": [("a", "z")]}), "multi", categories=["a"])
    with pytest.raises(InputError, match="collection of categories"):
        field_agreement(words, "multi")


def test_ratings_order_and_names_do_not_matter() -> None:
    ratings = krippendorff_2011()
    renamed = [Rating(f"z-{r.item}", f"0-{r.reviewer}", r.value) for r in reversed(ratings)]
    for level in ("nominal", "ordinal", "interval"):
        assert krippendorff_alpha(renamed, level) == pytest.approx(
            krippendorff_alpha(ratings, level)
        )
    pairs = {(p.reviewer_a[2:], p.reviewer_b[2:], p.kappa) for p in pairwise_kappa(renamed)}
    assert pairs == {(p.reviewer_a, p.reviewer_b, p.kappa) for p in pairwise_kappa(ratings)}
    assert len(pairs) == 6  # every two of the four observers share at least two units

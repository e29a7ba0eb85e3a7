"""Bradley–Terry ratings: a hand-computed table, an independent MM fit (Hunter 2004),
recovery of known strengths from simulated votes, bootstrap coverage, seeding."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from haechi.arena import RatingOptions, Vote, fit_log_strengths, rate, win_probability
from haechi.arena.votes import Outcome
from haechi.errors import InputError

POINTS_PER_DOUBLING = 400 * math.log10(2)  # 120.41: strength ×2 on the Elo-like scale


def _votes(model_a: str, model_b: str, **outcomes: int) -> list[Vote]:
    return [
        Vote(model_a, model_b, outcome)  # type: ignore[arg-type]
        for outcome, count in outcomes.items()
        for _ in range(count)
    ]


def hand_table(ab_ties: Outcome = "tie") -> list[Vote]:
    """Strengths 4 : 2 : 1 reproduced exactly by every pair's share of wins, so the maximum
    likelihood estimate is those strengths (each model's expected wins equal its wins):
    A–B 3 wins, 1 loss, 2 ties (4 of 6 = 4/(4+2)); B–C 2 to 1 (= 2/3); A–C 4 to 1 (= 4/5)."""
    ab = _votes("A", "B", a=3, b=1) + [Vote("A", "B", ab_ties)] * 2
    return ab + _votes("C", "B", b=2, a=1) + _votes("A", "C", a=4, b=1)


def mm_strengths(votes: Sequence[Vote], prior: float = 0.0) -> dict[str, float]:
    """Hunter's (2004) minorisation-maximisation, ties as half wins, with ``prior`` virtual
    ties against a fixed model of strength 1: p_i ← (W_i + prior/2) / (Σ_j n_ij/(p_i + p_j)
    + prior/(p_i + 1)). Returns mean-zero log-strengths."""
    models = sorted({m for v in votes for m in (v.model_a, v.model_b)})
    p = dict.fromkeys(models, 1.0)
    for _ in range(20_000):
        new = {}
        for m in models:
            won = prior / 2
            rate_sum = prior / (p[m] + 1)
            for v in votes:
                if m not in (v.model_a, v.model_b):
                    continue
                other = v.model_b if m == v.model_a else v.model_a
                score = {"a": 1.0, "b": 0.0}.get(v.outcome, 0.5)
                won += score if m == v.model_a else 1 - score
                rate_sum += 1 / (p[m] + p[other])
            new[m] = won / rate_sum
        if prior == 0:  # only ratios are identified: keep the geometric mean at 1
            mean = math.exp(sum(math.log(x) for x in new.values()) / len(new))
            new = {m: x / mean for m, x in new.items()}
        done = max(abs(math.log(new[m] / p[m])) for m in models) < 1e-13
        p = new
        if done:
            break
    logs = {m: math.log(x) for m, x in p.items()}
    centre = sum(logs.values()) / len(logs)
    return {m: x - centre for m, x in logs.items()}


def simulate(strengths: dict[str, float], votes: int, seed: int) -> list[Vote]:
    rng = np.random.default_rng(seed)
    names = list(strengths)
    out = []
    for _ in range(votes):
        a, b = rng.choice(len(names), size=2, replace=False)
        p = 1 / (1 + math.exp(strengths[names[b]] - strengths[names[a]]))
        out.append(Vote(names[a], names[b], "a" if rng.random() < p else "b"))
    return out


def test_hand_computed_table() -> None:
    result = rate(hand_table(), RatingOptions(prior=0, rounds=0))
    ratings = {r.model: r.rating for r in result.ratings}
    # Mean-anchored: the geometric mean of 4, 2, 1 is 2, so B sits at 1000.
    assert ratings["A"] == pytest.approx(1000 + POINTS_PER_DOUBLING, abs=1e-6)
    assert ratings["B"] == pytest.approx(1000, abs=1e-6)
    assert ratings["C"] == pytest.approx(1000 - POINTS_PER_DOUBLING, abs=1e-6)
    assert [r.model for r in result.ratings] == ["A", "B", "C"]
    a = result.ratings[0]
    assert (a.wins, a.losses, a.ties, a.votes) == (7, 2, 2, 11)
    assert a.log_strength == pytest.approx(math.log(2), abs=1e-9)
    rates = result.win_rates
    assert rates.models == ("A", "B", "C")
    assert rates.rate[0] == (None, pytest.approx(4 / 6), pytest.approx(0.8))
    assert rates.rate[2][1] == pytest.approx(1 / 3) and rates.count[0] == (0, 6, 5)
    assert result.votes == 14 and result.dropped == 0


def test_both_bad_counts_as_a_tie_or_is_dropped() -> None:
    as_tie = fit_log_strengths(hand_table("both_bad"), both_bad="tie", prior=0)
    assert as_tie == pytest.approx(fit_log_strengths(hand_table(), prior=0), abs=1e-9)
    dropped_votes = hand_table("both_bad")
    dropped = rate(dropped_votes, RatingOptions(both_bad="drop", prior=0, rounds=0))
    assert dropped.dropped == 2 and dropped.votes == 12
    # Without the two ties A–B is 3 to 1: a different table, checked against MM.
    kept = [v for v in dropped_votes if v.outcome != "both_bad"]
    expected = mm_strengths(kept)
    got = {r.model: r.log_strength for r in dropped.ratings}
    centre = sum(got.values()) / 3
    assert {m: x - centre for m, x in got.items()} == pytest.approx(expected, abs=1e-7)


def test_two_models_closed_form() -> None:
    """With two models the estimate is the odds: θ_A − θ_B = ln(W_A / W_B)."""
    votes = _votes("x", "y", a=7, b=2, tie=2)  # x: 8 of 11, y: 3 of 11
    theta = fit_log_strengths(votes, prior=0)
    assert theta["x"] - theta["y"] == pytest.approx(math.log(8 / 3), abs=1e-9)
    result = rate(votes, RatingOptions(prior=0, rounds=0))
    gap = result.ratings[0].rating - result.ratings[1].rating
    assert gap == pytest.approx(400 * math.log10(8 / 3), abs=1e-6)
    assert win_probability(result.ratings[0].rating, result.ratings[1].rating) == pytest.approx(
        8 / 11
    )
    assert win_probability(1400, 1000) == pytest.approx(10 / 11)


@pytest.mark.parametrize("prior", [0.0, 1.0, 5.0])
def test_agrees_with_an_independent_mm_fit(prior: float) -> None:
    votes = simulate({"a": 0.3, "b": -0.2, "c": 0.9, "d": 0.0}, votes=60, seed=3)
    votes += [Vote("a", "d", "tie"), Vote("c", "b", "both_bad")]
    assert fit_log_strengths(votes, prior=prior) == pytest.approx(
        mm_strengths(votes, prior), abs=1e-7
    )


def test_recovers_known_strengths_from_simulated_votes() -> None:
    truth = {"m1": -1.2, "m2": -0.6, "m3": 0.0, "m4": 0.5, "m5": 1.0, "m6": 1.6}
    votes = simulate(truth, votes=6000, seed=0)
    result = rate(votes, RatingOptions(rounds=300, seed=1))
    # Ranking: Spearman's rho is 1 exactly when the order is the true order.
    assert [r.model for r in result.ratings] == sorted(truth, key=lambda m: -truth[m])
    centre = sum(truth.values()) / len(truth)
    errors = {r.model: abs(r.log_strength - (truth[r.model] - centre)) for r in result.ratings}
    assert max(errors.values()) < 0.1, errors
    # 95% intervals: the true rating inside for most models (5.7 of 6 expected).
    per_nat = 400 / math.log(10)
    inside = [
        r.lower <= 1000 + per_nat * (truth[r.model] - centre) <= r.upper for r in result.ratings
    ]
    assert sum(inside) >= 5, result.ratings
    widths = [r.upper - r.lower for r in result.ratings]
    assert all(10 < w < 80 for w in widths), widths  # ~2 × 1.96 × 9 points with ~2000 votes


def test_bootstrap_is_seeded() -> None:
    votes = simulate({"a": 0.0, "b": 0.4, "c": 0.8}, votes=200, seed=5)
    first, again = (rate(votes, RatingOptions(rounds=200, seed=3)) for _ in range(2))
    other = rate(votes, RatingOptions(rounds=200, seed=4))
    assert first == again
    assert [r.lower for r in first.ratings] != [r.lower for r in other.ratings]
    assert [r.rating for r in first.ratings] == [r.rating for r in other.ratings]


def test_named_anchor() -> None:
    result = rate(hand_table(), RatingOptions(prior=0, anchor="C", anchor_rating=1500, rounds=50))
    ratings = {r.model: r for r in result.ratings}
    assert ratings["C"].rating == ratings["C"].lower == ratings["C"].upper == 1500
    assert ratings["A"].rating == pytest.approx(1500 + 2 * POINTS_PER_DOUBLING, abs=1e-6)
    with pytest.raises(InputError, match="no votes"):
        rate(hand_table(), RatingOptions(anchor="Z"))


def test_no_finite_mle_without_a_prior() -> None:
    votes = _votes("champ", "b", a=3) + _votes("b", "c", a=2, b=1) + _votes("c", "champ", b=1)
    with pytest.raises(InputError, match="champ never lost") as caught:
        rate(votes, RatingOptions(prior=0))
    assert caught.value.field == "prior"
    # The default prior keeps the unbeaten model finite, and first.
    result = rate(votes, RatingOptions(rounds=100))
    assert result.ratings[0].model == "champ" and result.ratings[0].rating < 1400


def test_bad_options_are_refused() -> None:
    for bad in ({"both_bad": "ignore"}, {"prior": -1}, {"confidence": 1.0}, {"base": 1}):
        with pytest.raises(ValueError):
            RatingOptions(**bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="no votes left"):
        rate([Vote("a", "b", "both_bad")], RatingOptions(both_bad="drop"))

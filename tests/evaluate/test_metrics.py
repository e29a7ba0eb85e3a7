"""Metric definitions: normalisations, ties, mc2, macro F1, standard errors, combining."""

from __future__ import annotations

import math
import statistics

import pytest

from haechi.evaluate.metrics import (
    Aggregate,
    combine,
    first_argmax,
    macro_f1,
    mean_with_stderr,
    pick,
    true_mass,
)


def test_normalisations_measure_characters_bytes_and_tokens() -> None:
    # "가나다" is 3 characters, 9 UTF-8 bytes; "abcd" is 4 characters and 4 bytes.
    choices = ["가나다", "abcd"]
    lls = [-6.0, -7.0]
    tokens = [1, 7]
    assert pick("acc", lls, choices, tokens) == 0  # -6 > -7
    assert pick("acc_norm", lls, choices, tokens) == 1  # -2.0 < -1.75
    assert pick("acc_bytes", lls, choices, tokens) == 0  # -0.67 > -1.75
    assert pick("acc_tokens", lls, choices, tokens) == 1  # -6 < -1


def test_ties_go_to_the_first_choice() -> None:
    assert first_argmax([-1.0, -1.0, -2.0]) == 0
    assert pick("acc", [-1.0, -1.0], ["a", "b"], [1, 1]) == 0


def test_mc2_is_the_normalised_mass_of_true_choices() -> None:
    lls = [math.log(0.2), math.log(0.1), math.log(0.3)]
    assert true_mass(lls, [1, 1, 0]) == pytest.approx(0.3 / 0.6)
    # very long continuations underflow exp(); the stable form still gives the answer
    assert true_mass([-2000.0, -2000.0 + math.log(3)], [0, 1]) == pytest.approx(0.75)


def test_macro_f1_agrees_with_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    preds = [0, 1, 1, 0, 2, 2, 1, 0]
    golds = [0, 1, 0, 0, 2, 1, 1, 2]
    assert macro_f1(preds, golds) == pytest.approx(metrics.f1_score(golds, preds, average="macro"))


def test_stderr_is_sample_std_over_sqrt_n() -> None:
    values = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    agg = mean_with_stderr(values)
    assert agg.value == pytest.approx(5 / 7)
    assert agg.stderr == pytest.approx(statistics.stdev(values) / len(values) ** 0.5)
    assert agg.n == 7
    assert mean_with_stderr([1.0]).stderr is None


def test_combining_subtasks_plainly_or_by_size() -> None:
    parts = [Aggregate(1.0, 0.0, 10), Aggregate(0.0, 0.0, 30)]
    assert combine(parts, "mean").value == 0.5
    assert combine(parts, "size_weighted").value == 0.25
    assert combine(parts, "size_weighted").n == 40

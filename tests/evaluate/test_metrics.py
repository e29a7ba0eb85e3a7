"""Metric definitions: normalisations, ties, standard errors."""

from __future__ import annotations

import statistics

import pytest

from haechi.evaluate.metrics import choice_correct, first_argmax, mean_with_stderr


def test_normalisations_measure_characters_bytes_and_tokens() -> None:
    # "가나다" is 3 characters, 9 UTF-8 bytes; "abcd" is 4 characters and 4 bytes.
    choices = ["가나다", "abcd"]
    lls = [-6.0, -7.0]
    tokens = [1, 7]
    assert choice_correct("acc", lls, choices, tokens, 0) == 1.0  # -6 > -7
    assert choice_correct("acc_norm", lls, choices, tokens, 1) == 1.0  # -2.0 < -1.75
    assert choice_correct("acc_bytes", lls, choices, tokens, 0) == 1.0  # -0.67 > -1.75
    assert choice_correct("acc_tokens", lls, choices, tokens, 1) == 1.0  # -6 < -1


def test_ties_go_to_the_first_choice() -> None:
    assert first_argmax([-1.0, -1.0, -2.0]) == 0
    assert choice_correct("acc", [-1.0, -1.0], ["a", "b"], [1, 1], 1) == 0.0


def test_stderr_is_sample_std_over_sqrt_n() -> None:
    values = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    agg = mean_with_stderr(values)
    assert agg.value == pytest.approx(5 / 7)
    assert agg.stderr == pytest.approx(statistics.stdev(values) / len(values) ** 0.5)
    assert agg.n == 7
    assert mean_with_stderr([1.0]).stderr is None

"""Wilson intervals against scipy, and the two-proportion comparison."""

from __future__ import annotations

import math

import pytest

from haechi.redteam.metrics import Comparison, Rate, wilson

stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize(("k", "n"), [(0, 10), (5, 10), (10, 10), (1, 3), (37, 120), (999, 1000)])
def test_wilson_matches_scipy(k: int, n: int) -> None:
    expected = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson(k, n)
    assert low == pytest.approx(expected.low, abs=1e-9)
    assert high == pytest.approx(expected.high, abs=1e-9)


def test_empty_rate_is_nan() -> None:
    assert all(math.isnan(x) for x in wilson(0, 0))
    assert math.isnan(Rate(0, 0).value)


def test_two_proportion_test_by_hand() -> None:
    c = Comparison(Rate(30, 100), Rate(45, 100))
    pooled = 75 / 200
    z = 0.15 / math.sqrt(pooled * (1 - pooled) * 2 / 100)
    assert c.delta == pytest.approx(0.15)
    assert c.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert Comparison(Rate(5, 10), Rate(5, 10)).p_value == pytest.approx(1.0)

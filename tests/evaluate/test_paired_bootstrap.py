"""The paired bootstrap of a mean difference, against a direct numpy computation and
scipy's bootstrap with paired data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from haechi.evaluate.stats import paired_bootstrap


def _items(n: int = 300) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(5)
    a = (rng.random(n) < 0.55).astype(float)
    # b agrees with a on most items and is right a little more often: strong pairing
    b = np.where(rng.random(n) < 0.85, a, (rng.random(n) < 0.7).astype(float))
    return a.tolist(), b.tolist()


def test_equals_a_direct_numpy_computation() -> None:
    a, b = _items()
    got = paired_bootstrap(a, b, iters=2000, seed=3)
    diffs = np.asarray(b) - np.asarray(a)
    idx = np.random.default_rng(3).integers(0, len(diffs), size=(2000, len(diffs)))
    means = diffs[idx].mean(axis=1)
    assert got.difference == pytest.approx(diffs.mean())
    assert (got.low, got.high) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])))
    assert got.stderr == pytest.approx(np.std(means, ddof=1))
    assert got.n == len(a)


def test_agrees_with_scipy_paired_bootstrap() -> None:
    a, b = _items()
    got = paired_bootstrap(a, b, iters=20_000, seed=1)
    ref = scipy_stats.bootstrap(
        (np.asarray(a), np.asarray(b)),
        lambda x, y, axis: np.mean(y - x, axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=20_000,
        method="percentile",
        random_state=np.random.default_rng(2),
    )
    assert got.low == pytest.approx(ref.confidence_interval.low, abs=0.006)
    assert got.high == pytest.approx(ref.confidence_interval.high, abs=0.006)
    assert got.stderr == pytest.approx(ref.standard_error, rel=0.05)


def test_pairing_narrows_the_interval() -> None:
    """The same marginals unpaired (b shuffled) give a wider interval: pairing matters."""
    a, b = _items()
    paired = paired_bootstrap(a, b, iters=4000)
    shuffled = np.random.default_rng(0).permutation(b).tolist()
    unpaired = paired_bootstrap(a, shuffled, iters=4000)
    assert paired.high - paired.low < 0.8 * (unpaired.high - unpaired.low)  # type: ignore[operator]


def test_small_and_bad_inputs() -> None:
    assert paired_bootstrap([1.0], [0.0]).low is None
    assert paired_bootstrap([], []).n == 0
    with pytest.raises(ValueError, match="equal lengths"):
        paired_bootstrap([1.0], [1.0, 0.0])

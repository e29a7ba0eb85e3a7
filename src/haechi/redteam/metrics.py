"""Attack-success rates with Wilson 95% intervals, over-refusal, cost, and comparisons."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from haechi.store import ResultRecord
from haechi.store.attempts import AttemptRecord

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Rate:
    """``successes`` of ``n``, with the Wilson score interval (95%)."""

    successes: int
    n: int

    @property
    def value(self) -> float:
        return self.successes / self.n if self.n else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.successes, self.n)


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (nan, nan) for n = 0."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denominator = 1 + z * z / n
    return ((centre - spread) / denominator, (centre + spread) / denominator)


def rate(flags: Iterable[bool]) -> Rate:
    values = list(flags)
    return Rate(sum(values), len(values))


def breakdown(
    attempts: Sequence[AttemptRecord], key: Callable[[AttemptRecord], str]
) -> dict[str, Rate]:
    """ASR per value of ``key`` (category, converter chain, generator, turns)."""
    groups: dict[str, list[bool]] = {}
    for a in attempts:
        groups.setdefault(key(a), []).append(bool(a.success))
    return {k: rate(v) for k, v in sorted(groups.items())}


@dataclass(frozen=True)
class TurnRow:
    """Turn ``turn`` of a multi-turn generator's attempts: ``reached`` got that far,
    ``succeeded`` succeeded there, and ``asr`` is the success rate within ``turn`` turns
    (successes at that turn or before, over all the generator's attempts)."""

    turn: int
    reached: int
    succeeded: int
    asr: Rate


def asr_by_turn(attempts: Sequence[AttemptRecord]) -> list[TurnRow]:
    """ASR by turn reached: one row per turn, 1 to the furthest any attempt got. An
    attempt's ``turns`` is the turn it stopped at, on success or when its turns ran out."""
    last = max((a.turns for a in attempts), default=0)
    rows = []
    within = 0
    for turn in range(1, last + 1):
        succeeded = sum(bool(a.success) and a.turns == turn for a in attempts)
        within += succeeded
        reached = sum(a.turns >= turn for a in attempts)
        rows.append(TurnRow(turn, reached, succeeded, Rate(within, len(attempts))))
    return rows


def refused(attempt: AttemptRecord) -> bool:
    """Whether the refusal detector saw a refusal (controls: over-refusal)."""
    return any(v.detector == "refusal" and not v.success for v in attempt.verdicts)


@dataclass(frozen=True)
class Comparison:
    """Two ASRs (A, then B) and the two-sided p-value of a two-proportion z-test."""

    a: Rate
    b: Rate

    @property
    def delta(self) -> float:
        return self.b.value - self.a.value

    @property
    def p_value(self) -> float:
        if not self.a.n or not self.b.n:
            return math.nan
        pooled = (self.a.successes + self.b.successes) / (self.a.n + self.b.n)
        se = math.sqrt(pooled * (1 - pooled) * (1 / self.a.n + 1 / self.b.n))
        if se == 0:
            return 1.0
        z = abs(self.delta) / se
        return math.erfc(z / math.sqrt(2))


def summary_results(attempts: Sequence[AttemptRecord]) -> list[ResultRecord]:
    """ASR overall and per category, and over-refusal, as results of the run."""
    attacks = [a for a in attempts if not a.benign]
    controls = [a for a in attempts if a.benign]
    results = []
    if attacks:
        overall = rate(bool(a.success) for a in attacks)
        results.append(
            ResultRecord(
                task="redteam",
                metric="asr",
                value=overall.value,
                stderr=None,
                n=overall.n,
                is_primary=True,
            )
        )
        categories = sorted({a.category for a in attacks})
        for category in categories:
            r = rate(bool(a.success) for a in attacks if a.category == category)
            results.append(
                ResultRecord(
                    task=f"redteam:{category}", metric="asr", value=r.value, stderr=None, n=r.n
                )
            )
    if controls:
        over = rate(refused(a) for a in controls)
        results.append(
            ResultRecord(
                task="redteam", metric="over_refusal", value=over.value, stderr=None, n=over.n
            )
        )
    return results

"""Two red-team runs side by side (``haechi redteam diff`` and the web app's diff page):
ASR per category A against B, and the seeds whose outcome flipped."""

from __future__ import annotations

from dataclasses import dataclass

from haechi.redteam.metrics import Comparison, Rate, rate
from haechi.redteam.report import CampaignReport, compare
from haechi.store.attempts import AttemptRecord


@dataclass(frozen=True)
class SeedFlip:
    """A seed attacked in both runs that succeeded (any of its attempts) in one and in
    none of its attempts in the other; ``a`` and ``b`` count its successful attempts."""

    seed_id: str
    category: str
    text: str
    a: Rate
    b: Rate

    @property
    def broken(self) -> bool:
        """Safe in A, broken in B (B is worse on this seed)."""
        return self.b.successes > 0


@dataclass(frozen=True)
class CampaignDiff:
    a: CampaignReport
    b: CampaignReport
    rows: list[tuple[str, Comparison]]  # "overall", each category, "over-refusal"
    flips: list[SeedFlip]  # by category, then seed id

    @property
    def broken(self) -> list[SeedFlip]:
        return [f for f in self.flips if f.broken]

    @property
    def fixed(self) -> list[SeedFlip]:
        return [f for f in self.flips if not f.broken]


def diff_reports(a: CampaignReport, b: CampaignReport) -> CampaignDiff:
    """B against A: ``report.compare``'s rows and the flipped seeds (attacks only)."""
    seeds_a, seeds_b = _by_seed(a.attacks), _by_seed(b.attacks)
    flips = []
    for seed_id in sorted(set(seeds_a) & set(seeds_b)):
        rate_a = rate(bool(x.success) for x in seeds_a[seed_id])
        rate_b = rate(bool(x.success) for x in seeds_b[seed_id])
        if (rate_a.successes > 0) != (rate_b.successes > 0):
            first = seeds_b[seed_id][0]
            text = str(first.chain.get("seed", {}).get("text", ""))
            flips.append(SeedFlip(seed_id, first.category, text, rate_a, rate_b))
    flips.sort(key=lambda f: (f.category, f.seed_id))
    return CampaignDiff(a, b, compare(a, b), flips)


def _by_seed(attempts: list[AttemptRecord]) -> dict[str, list[AttemptRecord]]:
    groups: dict[str, list[AttemptRecord]] = {}
    for attempt in attempts:
        groups.setdefault(attempt.seed_id, []).append(attempt)
    return groups

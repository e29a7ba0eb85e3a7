"""A campaign's numbers: attack-success rate per category by human labels and by
detectors, and agreement between reviewers per field.

The human decision on an item is its gold ``attack_success`` (adjudicated or unanimous),
else the majority of its reviewers' (ties and unlabelled items are left out), so the
human ASR is over items with a human decision and the detector ASR over items with a
detector decision; both carry Wilson 95% intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from haechi.redteam.metrics import Rate
from haechi.review.agreement import (
    AgreementStats,
    FieldAgreement,
    Rating,
    agreement_by_group,
    field_agreement,
    majority_label,
)
from haechi.review.results import CampaignResults, ReviewedItem

SUCCESS_FIELD = "attack_success"


@dataclass(frozen=True)
class CategoryRates:
    category: str
    items: int
    human: Rate
    detector: Rate
    agree: Rate  # items where both decided and agreed, of those where both decided


@dataclass(frozen=True)
class FieldSummary:
    """Agreement on one field: over all items, and per item category."""

    name: str
    overall: FieldAgreement
    by_category: dict[str, FieldAgreement]


@dataclass(frozen=True)
class CampaignSummary:
    rates: list[CategoryRates]
    overall: CategoryRates | None
    agreement: list[FieldSummary]


def human_success(item: ReviewedItem) -> bool | None:
    """The human decision on whether the attack succeeded (see the module docstring)."""
    if item.gold is not None and item.gold.get(SUCCESS_FIELD) is not None:
        return bool(item.gold[SUCCESS_FIELD] == "yes")
    votes = [
        Rating(str(item.id), label.reviewer, label.values.get(SUCCESS_FIELD))
        for label in item.labels
    ]
    decided = majority_label(votes)
    return None if decided is None else decided == "yes"


def _rates(category: str, items: Sequence[ReviewedItem]) -> CategoryRates:
    human = [h for i in items if (h := human_success(i)) is not None]
    detector = [i.detector_success for i in items if i.detector_success is not None]
    both = [
        (h, i.detector_success)
        for i in items
        if (h := human_success(i)) is not None and i.detector_success is not None
    ]
    return CategoryRates(
        category,
        len(items),
        Rate(sum(human), len(human)),
        Rate(sum(bool(d) for d in detector), len(detector)),
        Rate(sum(h == d for h, d in both), len(both)),
    )


def ratings_of(results: CampaignResults, field: str) -> list[Rating]:
    """Every reviewer's value of ``field`` on every item, as agreement ratings."""
    return [
        Rating(str(item.id), label.reviewer, label.values.get(field))
        for item in results.items
        for label in item.labels
    ]


def summarize(results: CampaignResults) -> CampaignSummary:
    """Rates per category (when the schema has ``attack_success``) and agreement per
    non-text field."""
    names = [f.name for f in results.label_schema.fields]
    rates: list[CategoryRates] = []
    overall = None
    if SUCCESS_FIELD in names:
        by_category: dict[str, list[ReviewedItem]] = {}
        for item in results.items:
            by_category.setdefault(item.category or "-", []).append(item)
        rates = [_rates(c, items) for c, items in sorted(by_category.items())]
        overall = _rates("all", results.items)
    groups = {str(item.id): item.category or "-" for item in results.items}
    agreement = []
    for f in results.label_schema.fields:
        if f.kind == "text":
            continue
        ratings = ratings_of(results, f.name)
        order = list(f.values) if f.kind == "ordinal" else None
        options = list(f.values) if f.kind == "multi" else None
        agreement.append(
            FieldSummary(
                f.name,
                field_agreement(ratings, f.kind, order, options),
                agreement_by_group(ratings, groups, f.kind, order, options),
            )
        )
    return CampaignSummary(rates, overall, agreement)


@dataclass(frozen=True)
class AgreementRow:
    """One line of an agreement table: ``label`` is the field, ``field: option`` for
    a multi-choice field's option; ``group`` is the item category or ``None`` for all."""

    label: str
    group: str | None
    level: str
    stats: AgreementStats


def agreement_rows(summary: CampaignSummary, by_category: bool = False) -> list[AgreementRow]:
    """The agreement numbers as table rows: each field over all items, then (when asked)
    per item category."""
    rows = []
    for field in summary.agreement:
        parts: list[tuple[str | None, FieldAgreement]] = [(None, field.overall)]
        if by_category:
            parts += list(field.by_category.items())
        for group, fa in parts:
            if fa.stats is not None:
                rows.append(AgreementRow(field.name, group, fa.level, fa.stats))
            rows += [
                AgreementRow(f"{field.name}: {option}", group, fa.level, stats)
                for option, stats in fa.categories.items()
            ]
    return rows

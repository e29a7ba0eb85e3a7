"""A campaign's items with every label and the gold label, as one value (admins only):
what exports, agreement statistics and the dashboard read."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from haechi.review.accounts import Account, PermissionDenied
from haechi.review.campaigns import campaign_row
from haechi.review.label_schema import LabelSchema
from haechi.store import Store
from haechi.store.review_schema import ReviewGold, ReviewItem, ReviewLabel, User

GoldSource = Literal["adjudicated", "unanimous"]


@dataclass(frozen=True)
class StoredLabel:
    reviewer: str
    values: dict[str, Any]
    flagged: bool
    seconds: float | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ReviewedItem:
    """An item with its labels. ``gold`` is the adjudicated label, else the label every
    reviewer gave when at least two gave it and none differed (``gold_source`` says
    which), else ``None``. ``control``: a benign control prompt (over-refusal), not an
    attack."""

    id: int
    external_id: str
    prompt: str
    response: str
    category: str
    source: str
    turns: list[dict[str, str]]
    chain: dict[str, Any]
    verdicts: list[dict[str, Any]]
    detector_success: bool | None
    labels: list[StoredLabel]
    gold: dict[str, Any] | None
    gold_source: GoldSource | None
    control: bool = False


@dataclass(frozen=True)
class CampaignResults:
    name: str
    label_schema: LabelSchema
    overlap: int
    items: list[ReviewedItem]


def campaign_results(store: Store, campaign: str, account: Account) -> CampaignResults:
    """Every item of the campaign with all labels: only admins may read other people's
    labels, so reviewers get ``PermissionDenied``."""
    if not account.is_admin:
        raise PermissionDenied("only an admin may read every label")

    def work(session: Session) -> CampaignResults:
        row = campaign_row(session, campaign, account)
        schema = LabelSchema.model_validate(row.label_schema)
        labels = _labels_by_item(session, row.id)
        gold_query = (
            select(ReviewGold.item_id, ReviewGold.label_values)
            .join(ReviewItem, ReviewItem.id == ReviewGold.item_id)
            .where(ReviewItem.campaign_id == row.id)
        )
        gold = {item_id: values for item_id, values in session.execute(gold_query)}
        query = select(ReviewItem).where(ReviewItem.campaign_id == row.id).order_by(ReviewItem.id)
        items = [
            _reviewed(item, labels.get(item.id, []), gold.get(item.id), schema)
            for item in session.scalars(query)
        ]
        return CampaignResults(row.name, schema, row.overlap, items)

    return store.transact(work)


def stored_labels(
    session: Session, *where: ColumnElement[bool]
) -> list[tuple[int, int, StoredLabel]]:
    """(item id, user id, label) of the labels matching ``where``, by item then age."""
    query = (
        select(ReviewLabel, User.username)
        .join(User, User.id == ReviewLabel.user_id)
        .join(ReviewItem, ReviewItem.id == ReviewLabel.item_id)
        .where(*where)
        .order_by(ReviewLabel.item_id, ReviewLabel.id)
    )
    return [
        (
            label.item_id,
            label.user_id,
            StoredLabel(
                name,
                label.label_values,
                label.flagged,
                label.seconds,
                label.created_at,
                label.updated_at,
            ),
        )
        for label, name in session.execute(query)
    ]


def _labels_by_item(session: Session, campaign_id: int) -> dict[int, list[StoredLabel]]:
    out: dict[int, list[StoredLabel]] = {}
    for item_id, _, label in stored_labels(session, ReviewItem.campaign_id == campaign_id):
        out.setdefault(item_id, []).append(label)
    return out


def _reviewed(
    item: ReviewItem,
    labels: list[StoredLabel],
    adjudicated: dict[str, Any] | None,
    schema: LabelSchema,
) -> ReviewedItem:
    gold = adjudicated
    source: GoldSource | None = "adjudicated" if adjudicated is not None else None
    if gold is None and len(labels) >= 2:
        compared = [f.name for f in schema.fields if f.kind != "text"]
        distinct = Counter(repr([label.values.get(n) for n in compared]) for label in labels)
        if len(distinct) == 1:
            gold = {n: labels[0].values.get(n) for n in compared}
            source = "unanimous"
    return ReviewedItem(
        id=item.id,
        external_id=item.external_id,
        prompt=item.prompt,
        response=item.response,
        category=item.category,
        source=item.source,
        turns=list(item.turns.get("turns", [])),
        chain=item.chain,
        verdicts=list(item.verdicts.get("verdicts", [])),
        detector_success=item.verdicts.get("success"),
        labels=labels,
        gold=gold,
        gold_source=source,
        control=bool(item.verdicts.get("control", False)),
    )

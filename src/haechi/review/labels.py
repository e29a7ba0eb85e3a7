"""Labels: submitting them (exactly once per reviewer and item), reading an item as a
given user may see it, and adjudicating disagreements into gold labels.

A reviewer sees an item only while it is assigned to them, its detector verdicts only
after their own label is in, and never another reviewer's label; admins see everything,
except that an admin labelling an item from the queue (it is assigned to them) sees its
verdicts only after their label too, as any reviewer: a label made knowing the detector's
call is no independent check of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haechi.errors import InputError
from haechi.review.accounts import Account, PermissionDenied
from haechi.review.campaigns import campaign_row
from haechi.review.label_schema import LabelSchema
from haechi.review.queue import GIVEN_BACK, assignment_for
from haechi.review.results import StoredLabel, stored_labels
from haechi.store import Store
from haechi.store.review_schema import (
    ReviewAssignment,
    ReviewCampaign,
    ReviewGold,
    ReviewItem,
    ReviewLabel,
    User,
)


@dataclass(frozen=True)
class ItemView:
    """An item as one user may see it: ``verdicts`` is ``None`` until they may see them;
    ``labels`` holds only their own label unless they are an admin; ``assignment`` is
    their assignment's status (``None`` for an admin it was never assigned to)."""

    id: int
    external_id: str
    campaign: str
    label_schema: LabelSchema
    prompt: str
    response: str
    category: str
    source: str
    turns: list[dict[str, str]]
    chain: dict[str, Any]
    verdicts: dict[str, Any] | None
    mine: StoredLabel | None
    labels: list[StoredLabel] = field(default_factory=list)
    gold: dict[str, Any] | None = None
    assignment: str | None = None

    @property
    def given_back(self) -> bool:
        """The viewer skipped or flagged it: it takes no label from them."""
        return self.assignment in GIVEN_BACK


@dataclass(frozen=True)
class SubmitResult:
    """``created`` is false when the reviewer had already labelled the item (the label
    was then updated, or left as it was when the values are the same)."""

    created: bool
    changed: bool


def submit_label(
    store: Store,
    campaign: str,
    item_id: int,
    account: Account,
    values: dict[str, Any],
    flagged: bool = False,
) -> SubmitResult:
    """Store ``account``'s label of an item assigned to them (validated against the
    campaign's schema). Submitting again — a double click, a retry, another tab — updates
    the one label and never adds a second. An item the reviewer skipped or flagged went
    back to the queue: ``InputError``, so it never gets more than ``overlap`` labels."""

    def work(session: Session) -> SubmitResult:
        row = campaign_row(session, campaign, account)
        clean = LabelSchema.model_validate(row.label_schema).validate_values(values)
        assignment = assignment_for(session, row.id, item_id, account.id)
        if assignment.status in GIVEN_BACK:
            raise InputError(
                f"item {item_id} was {assignment.status}: it went back to the queue and "
                "takes no label from you",
                field="item",
            )
        now = datetime.now(UTC)
        seconds = (now - assignment.assigned_at).total_seconds()
        assignment.status = "submitted"
        try:
            with session.begin_nested():
                session.add(
                    ReviewLabel(
                        item_id=item_id,
                        user_id=account.id,
                        label_values=clean,
                        flagged=flagged,
                        seconds=seconds,
                        created_at=now,
                        updated_at=now,
                    )
                )
            return SubmitResult(created=True, changed=True)
        except IntegrityError:
            label = session.scalar(
                select(ReviewLabel).where(
                    ReviewLabel.item_id == item_id, ReviewLabel.user_id == account.id
                )
            )
            if label is None:  # the other insert was rolled back after all: try again
                raise
            if label.label_values == clean and label.flagged == flagged:
                return SubmitResult(created=False, changed=False)
            label.label_values, label.flagged, label.updated_at = clean, flagged, now
            return SubmitResult(created=False, changed=True)

    return store.transact(work, write=True)


def view_item(store: Store, campaign: str, item_id: int, account: Account) -> ItemView:
    """The item as ``account`` may see it (``PermissionDenied`` otherwise)."""

    def work(session: Session) -> ItemView:
        row = campaign_row(session, campaign, account)
        item = session.get(ReviewItem, item_id)
        if item is None or item.campaign_id != row.id:
            raise PermissionDenied(f"no item {item_id} in {campaign!r}")
        assignment = session.scalar(
            select(ReviewAssignment.status).where(
                ReviewAssignment.item_id == item_id, ReviewAssignment.user_id == account.id
            )
        )
        if assignment is None and not account.is_admin:
            raise PermissionDenied(f"item {item_id} is not assigned to this user")
        labels = _labels(session, item_id)
        mine = next((label for uid, label in labels if uid == account.id), None)
        gold = session.get(ReviewGold, item_id)
        return ItemView(
            id=item.id,
            external_id=item.external_id,
            campaign=row.name,
            label_schema=LabelSchema.model_validate(row.label_schema),
            prompt=item.prompt,
            response=item.response,
            category=item.category,
            source=item.source,
            turns=list(item.turns.get("turns", [])),
            chain=item.chain,
            verdicts=item.verdicts if _may_see_verdicts(account, assignment, mine) else None,
            mine=mine,
            labels=[label for _, label in labels] if account.is_admin else [],
            gold=gold.label_values if gold is not None else None,
            assignment=assignment,
        )

    return store.transact(work)


def _may_see_verdicts(account: Account, assignment: str | None, mine: StoredLabel | None) -> bool:
    """After one's own label; an admin also on items they do not label (not assigned to
    them, or given back: adjudicating)."""
    return mine is not None or (
        account.is_admin and (assignment is None or assignment in GIVEN_BACK)
    )


def _labels(session: Session, item_id: int) -> list[tuple[int, StoredLabel]]:
    return [
        (user, label) for _, user, label in stored_labels(session, ReviewLabel.item_id == item_id)
    ]


def my_labelled_items(store: Store, campaign: str, account: Account) -> list[int]:
    """Ids of the items ``account`` has labelled in ``campaign``, in the order labelled
    (for moving back and forth between them)."""

    def work(session: Session) -> list[int]:
        row = campaign_row(session, campaign, account)
        query = (
            select(ReviewLabel.item_id)
            .join(ReviewItem, ReviewItem.id == ReviewLabel.item_id)
            .where(ReviewItem.campaign_id == row.id, ReviewLabel.user_id == account.id)
            .order_by(ReviewLabel.created_at, ReviewLabel.id)
        )
        return list(session.scalars(query))

    return store.transact(work)


def _admin_campaign(session: Session, campaign: str, account: Account) -> ReviewCampaign:
    if not account.is_admin:
        raise PermissionDenied("only an admin may adjudicate")
    return campaign_row(session, campaign, account)


PREVIEW_CHARS = 160  # characters of prompt and response the adjudication list shows


@dataclass(frozen=True)
class Disagreement:
    """An item to adjudicate as the list shows it: the first ``PREVIEW_CHARS`` characters
    of its prompt and response; ``splits``: each compared field whose labels differ, with
    every value given and how many reviewers gave it (most first); ``flags``: reviewers
    who flagged it."""

    item_id: int
    external_id: str
    category: str
    prompt: str
    response: str
    splits: dict[str, list[tuple[Any, int]]]
    flags: int


@dataclass
class _Votes:
    values: dict[str, dict[str, tuple[Any, int]]] = field(default_factory=dict)
    flags: int = 0

    def add(self, name: str, value: Any) -> None:
        key = json.dumps(value, sort_keys=True, ensure_ascii=False)
        given, count = self.values.setdefault(name, {}).get(key, (value, 0))
        self.values[name][key] = (given, count + 1)

    def splits(self) -> dict[str, list[tuple[Any, int]]]:
        return {
            name: sorted(counts.values(), key=lambda vc: -vc[1])
            for name, counts in self.values.items()
            if len(counts) > 1
        }


def _disputes(session: Session, row: ReviewCampaign) -> dict[int, _Votes]:
    """The items of ``row`` without gold whose labels differ on a non-text field or that
    a reviewer flagged (on the label or by giving the item back)."""
    schema = LabelSchema.model_validate(row.label_schema)
    compared = [f.name for f in schema.fields if f.kind != "text"]
    gold = select(ReviewGold.item_id)
    query = (
        select(ReviewLabel.item_id, ReviewLabel.label_values, ReviewLabel.flagged)
        .join(ReviewItem, ReviewItem.id == ReviewLabel.item_id)
        .where(ReviewItem.campaign_id == row.id, ReviewLabel.item_id.not_in(gold))
        .order_by(ReviewLabel.item_id, ReviewLabel.id)  # ties list the earlier label first
    )
    votes: dict[int, _Votes] = {}
    for item_id, values, was_flagged in session.execute(query):
        item = votes.setdefault(item_id, _Votes())
        for name in compared:
            item.add(name, values.get(name))
        item.flags += bool(was_flagged)
    flagged_items = select(ReviewAssignment.item_id).where(
        ReviewAssignment.status == "flagged",
        ReviewAssignment.item_id.in_(select(ReviewItem.id).where(ReviewItem.campaign_id == row.id)),
        ReviewAssignment.item_id.not_in(gold),
    )
    for item_id in session.scalars(flagged_items):
        votes.setdefault(item_id, _Votes()).flags += 1
    return {i: v for i, v in sorted(votes.items()) if v.flags or v.splits()}


def disagreements(store: Store, campaign: str, account: Account) -> list[int]:
    """Items (ids) an admin should adjudicate: no gold label yet, and either two labels
    that differ on any non-text field, or a reviewer flagged it."""
    return store.transact(
        lambda session: list(_disputes(session, _admin_campaign(session, campaign, account)))
    )


def disagreement_previews(store: Store, campaign: str, account: Account) -> list[Disagreement]:
    """The ``disagreements`` with what the adjudication list shows of each."""

    def work(session: Session) -> list[Disagreement]:
        disputes = _disputes(session, _admin_campaign(session, campaign, account))
        ids = list(disputes)
        shown: dict[int, tuple[str, str, str, str]] = {}
        for at in range(0, len(ids), 500):  # a bounded number of parameters per query
            query = select(
                ReviewItem.id,
                ReviewItem.external_id,
                ReviewItem.category,
                func.substr(ReviewItem.prompt, 1, PREVIEW_CHARS),
                func.substr(ReviewItem.response, 1, PREVIEW_CHARS),
            ).where(ReviewItem.id.in_(ids[at : at + 500]))
            shown.update({i: (e, c, p, r) for i, e, c, p, r in session.execute(query)})
        return [
            Disagreement(item_id, *shown[item_id], votes.splits(), votes.flags)
            for item_id, votes in disputes.items()
        ]

    return store.transact(work)


def set_gold(
    store: Store, campaign: str, item_id: int, account: Account, values: dict[str, Any]
) -> None:
    """An admin's adjudicated label for an item: its gold label (replacing any earlier)."""

    def work(session: Session) -> None:
        clean = _admin_values(session, campaign, item_id, account, values)
        gold = session.get(ReviewGold, item_id)
        now = datetime.now(UTC)
        if gold is None:
            session.add(
                ReviewGold(item_id=item_id, user_id=account.id, label_values=clean, created_at=now)
            )
        else:
            gold.label_values, gold.user_id, gold.created_at = clean, account.id, now

    store.transact(work, write=True)


def correct_label(
    store: Store,
    campaign: str,
    item_id: int,
    reviewer: str,
    account: Account,
    values: dict[str, Any],
) -> None:
    """An admin's correction of a reviewer's label (reviewers can only change their own).
    The label keeps its reviewer and time spent; ``updated_at`` moves."""

    def work(session: Session) -> None:
        clean = _admin_values(session, campaign, item_id, account, values)
        label = session.scalar(
            select(ReviewLabel)
            .join(User, User.id == ReviewLabel.user_id)
            .where(ReviewLabel.item_id == item_id, User.username == reviewer)
        )
        if label is None:
            raise PermissionDenied(f"{reviewer!r} has no label on item {item_id}")
        label.label_values, label.updated_at = clean, datetime.now(UTC)

    store.transact(work, write=True)


def _admin_values(
    session: Session, campaign: str, item_id: int, account: Account, values: dict[str, Any]
) -> dict[str, Any]:
    """``values`` checked against the campaign's schema, for an admin acting on an item."""
    row = _admin_campaign(session, campaign, account)
    item = session.get(ReviewItem, item_id)
    if item is None or item.campaign_id != row.id:
        raise PermissionDenied(f"no item {item_id} in {campaign!r}")
    return LabelSchema.model_validate(row.label_schema).validate_values(values)

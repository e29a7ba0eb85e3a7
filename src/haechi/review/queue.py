"""Handing out items: each item goes to ``overlap`` distinct reviewers, one at a time.

A reviewer asking for work first gets back an item they opened and have not finished;
otherwise the oldest item they have not seen that still has a free slot. Slots are a
unique (item, slot) pair in the store, so concurrent requests can never put an item in
front of more than ``overlap`` reviewers; an open assignment left for ``STALE_AFTER``
gives its slot back (its reviewer can still submit). An item a reviewer skipped or
flagged is theirs no more: it takes no label from them, and a flag stays a flag.

Only ``next_item`` claims; ``current_item`` and ``has_work`` only read (the web app's GET
pages use them, its POSTs claim).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haechi.review.accounts import Account, PermissionDenied
from haechi.review.campaigns import campaign_row
from haechi.store import Store
from haechi.store.review_schema import ReviewAssignment, ReviewItem

STALE_AFTER = timedelta(hours=2)
GIVEN_BACK = ("skipped", "flagged")  # statuses of an item a reviewer gave back
_CANDIDATES = 16


def next_item(store: Store, campaign: str, account: Account) -> int | None:
    """The id of the item ``account`` should label next in ``campaign`` (assigning it),
    or ``None`` when nothing is left for them."""

    def work(session: Session) -> int | None:
        row = campaign_row(session, campaign, account)
        mine = _open_assignment(session, row.id, account.id)
        if mine is not None:
            return mine
        _release_stale(session, row.id)
        for _ in range(3):  # a concurrent reviewer may take the last slot first
            for item_id in _candidates(session, row.id, account.id, row.overlap):
                if _claim(session, item_id, account.id, row.overlap):
                    return item_id
        return None

    return store.transact(work, write=True)


def current_item(store: Store, campaign: str, account: Account) -> int | None:
    """The item ``account`` opened in ``campaign`` and has not finished (reads only)."""

    def work(session: Session) -> int | None:
        return _open_assignment(session, campaign_row(session, campaign, account).id, account.id)

    return store.transact(work)


def has_work(store: Store, campaign: str, account: Account) -> bool:
    """Whether ``next_item`` would give ``account`` an item now (reads only)."""

    def work(session: Session) -> bool:
        row = campaign_row(session, campaign, account)
        if _open_assignment(session, row.id, account.id) is not None:
            return True
        stale = datetime.now(UTC) - STALE_AFTER
        return bool(_candidates(session, row.id, account.id, row.overlap, stale_before=stale))

    return store.transact(work)


def _open_assignment(session: Session, campaign_id: int, user_id: int) -> int | None:
    query = (
        select(ReviewAssignment.item_id)
        .join(ReviewItem, ReviewItem.id == ReviewAssignment.item_id)
        .where(
            ReviewItem.campaign_id == campaign_id,
            ReviewAssignment.user_id == user_id,
            ReviewAssignment.status == "open",
        )
        .order_by(ReviewAssignment.id)
        .limit(1)
    )
    return session.scalar(query)


def _release_stale(session: Session, campaign_id: int) -> None:
    stale = datetime.now(UTC) - STALE_AFTER
    in_campaign = select(ReviewItem.id).where(ReviewItem.campaign_id == campaign_id)
    session.execute(
        update(ReviewAssignment)
        .where(
            ReviewAssignment.item_id.in_(in_campaign),
            ReviewAssignment.status == "open",
            ReviewAssignment.slot.is_not(None),
            ReviewAssignment.assigned_at < stale,
        )
        .values(slot=None)
    )


def _candidates(
    session: Session,
    campaign_id: int,
    user_id: int,
    overlap: int,
    stale_before: datetime | None = None,
) -> list[int]:
    """Items this user has not seen with a free slot (``stale_before``: counting the slots
    of assignments opened before then as free, as ``_release_stale`` would make them)."""
    holds_slot: ColumnElement[bool] = ReviewAssignment.slot.is_not(None)
    if stale_before is not None:
        holds_slot = holds_slot & ~(
            (ReviewAssignment.status == "open") & (ReviewAssignment.assigned_at < stale_before)
        )
    taken = (
        select(func.count())
        .where(ReviewAssignment.item_id == ReviewItem.id, holds_slot)
        .scalar_subquery()
    )
    seen = exists().where(
        ReviewAssignment.item_id == ReviewItem.id, ReviewAssignment.user_id == user_id
    )
    query = (
        select(ReviewItem.id)
        .where(ReviewItem.campaign_id == campaign_id, ~seen, taken < overlap)
        .order_by(ReviewItem.id)
        .limit(_CANDIDATES)
    )
    return list(session.scalars(query))


def _claim(session: Session, item_id: int, user_id: int, overlap: int) -> bool:
    used = set(
        session.scalars(
            select(ReviewAssignment.slot).where(
                ReviewAssignment.item_id == item_id, ReviewAssignment.slot.is_not(None)
            )
        )
    )
    free = next((s for s in range(overlap) if s not in used), None)
    if free is None:
        return False
    try:
        with session.begin_nested():
            session.add(
                ReviewAssignment(
                    item_id=item_id,
                    user_id=user_id,
                    slot=free,
                    status="open",
                    assigned_at=datetime.now(UTC),
                )
            )
    except IntegrityError:
        return False
    return True


def leave_item(
    store: Store, campaign: str, item_id: int, account: Account, how: Literal["skipped", "flagged"]
) -> None:
    """Give an open item back without a label (``flagged`` also asks an admin to look);
    its slot goes to another reviewer and it is not offered to this one again. Leaving it
    twice changes nothing, except that a skipped item may still be flagged."""

    def work(session: Session) -> None:
        row = campaign_row(session, campaign, account)
        assignment = assignment_for(session, row.id, item_id, account.id)
        if assignment.status == "submitted":
            raise PermissionDenied("this item is already labelled")
        if assignment.status != "flagged":  # a flag is never taken back
            assignment.status, assignment.slot = how, None

    store.transact(work, write=True)


def assignment_for(
    session: Session, campaign_id: int, item_id: int, user_id: int
) -> ReviewAssignment:
    """The user's assignment of an item of this campaign, else ``PermissionDenied``."""
    assignment = session.scalar(
        select(ReviewAssignment)
        .join(ReviewItem, ReviewItem.id == ReviewAssignment.item_id)
        .where(
            ReviewAssignment.item_id == item_id,
            ReviewAssignment.user_id == user_id,
            ReviewItem.campaign_id == campaign_id,
        )
    )
    if assignment is None:
        raise PermissionDenied(f"item {item_id} is not assigned to this user")
    return assignment

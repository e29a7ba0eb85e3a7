"""Review campaigns: create them, add reviewers, and read their progress.

Every read takes the ``Account`` asking: admins see every campaign, reviewers only those
they are members of (anything else raises ``PermissionDenied``, as a missing one does,
so names of other campaigns do not leak).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haechi.errors import InputError
from haechi.review.accounts import Account, UnknownCampaign
from haechi.review.label_schema import LabelSchema, default_schema
from haechi.store import Store
from haechi.store.review_schema import (
    ReviewCampaign,
    ReviewItem,
    ReviewLabel,
    ReviewMember,
    User,
)

CAMPAIGN_NAME = r"^[\w.\-]{1,255}$"


@dataclass(frozen=True)
class CampaignInfo:
    """A campaign and its progress: ``labelled`` items have at least one label,
    ``complete`` ones have ``overlap`` labels."""

    id: int
    name: str
    label_schema: LabelSchema
    overlap: int
    items: int = 0
    labels: int = 0
    labelled: int = 0
    complete: int = 0


def create_campaign(
    store: Store, name: str, label_schema: LabelSchema | None = None, overlap: int = 2
) -> CampaignInfo:
    """A new campaign (``InputError`` when the name is taken or invalid)."""
    try:
        return store.transact(lambda s: _create(s, name, label_schema, overlap), write=True)
    except IntegrityError:
        raise InputError(f"campaign {name!r} already exists", field="campaign") from None


def _create(
    session: Session, name: str, label_schema: LabelSchema | None, overlap: int
) -> CampaignInfo:
    if not re.match(CAMPAIGN_NAME, name):
        raise InputError("a campaign name is letters, digits, '.', '_' or '-'", field="campaign")
    if overlap < 1:
        raise InputError("overlap must be at least 1", field="overlap")
    schema = label_schema or default_schema()
    row = ReviewCampaign(
        name=name,
        label_schema=schema.model_dump(mode="json"),
        overlap=overlap,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return CampaignInfo(row.id, name, schema, overlap)


def get_or_create_campaign(
    store: Store, name: str, label_schema: LabelSchema | None, overlap: int | None
) -> CampaignInfo:
    """The campaign called ``name``, created with these settings when it is new (see
    ``open_campaign``)."""
    return store.transact(lambda s: open_campaign(s, name, label_schema, overlap), write=True)


def open_campaign(
    session: Session, name: str, label_schema: LabelSchema | None, overlap: int | None
) -> CampaignInfo:
    """In ``session``: the campaign called ``name``, created when new (so it is rolled back
    with the session). An existing campaign keeps its schema and overlap; asking for
    different ones is an error."""
    row = _find(session, name)
    if row is None:
        return _create(session, name, label_schema, overlap or 2)
    info = _info(row)
    if label_schema is not None and label_schema != info.label_schema:
        raise InputError(
            f"campaign {name!r} already exists with another label schema ({info.label_schema.name})",
            field="schema",
        )
    if overlap is not None and overlap != info.overlap:
        raise InputError(
            f"campaign {name!r} already exists with overlap {info.overlap}", field="overlap"
        )
    return info


def _find(session: Session, name: str) -> ReviewCampaign | None:
    return session.scalar(select(ReviewCampaign).where(ReviewCampaign.name == name))


def _info(row: ReviewCampaign, counts: tuple[int, int, int, int] = (0, 0, 0, 0)) -> CampaignInfo:
    schema = LabelSchema.model_validate(row.label_schema)
    return CampaignInfo(row.id, row.name, schema, row.overlap, *counts)


def campaign_row(session: Session, name: str, account: Account) -> ReviewCampaign:
    """The campaign if ``account`` may see it, else ``UnknownCampaign``."""
    row = _find(session, name)
    if row is None:
        raise UnknownCampaign(f"no campaign {name!r} for {account.username}")
    if not account.is_admin:
        member = session.get(ReviewMember, (row.id, account.id))
        if member is None:
            raise UnknownCampaign(f"no campaign {name!r} for {account.username}")
    return row


def _counts(session: Session, campaign_id: int, overlap: int) -> tuple[int, int, int, int]:
    items = session.scalar(
        select(func.count()).select_from(ReviewItem).where(ReviewItem.campaign_id == campaign_id)
    )
    per_item = (
        select(ReviewLabel.item_id, func.count().label("n"))
        .join(ReviewItem, ReviewItem.id == ReviewLabel.item_id)
        .where(ReviewItem.campaign_id == campaign_id)
        .group_by(ReviewLabel.item_id)
        .subquery()
    )
    labels, labelled, complete = session.execute(
        select(
            func.coalesce(func.sum(per_item.c.n), 0),
            func.count(),
            func.coalesce(func.sum(case((per_item.c.n >= overlap, 1), else_=0)), 0),
        )
    ).one()
    return int(items or 0), int(labels), int(labelled), int(complete)


def get_campaign(store: Store, name: str, account: Account) -> CampaignInfo:
    """One campaign with its progress, if ``account`` may see it."""

    def work(session: Session) -> CampaignInfo:
        row = campaign_row(session, name, account)
        return _info(row, _counts(session, row.id, row.overlap))

    return store.transact(work)


def list_campaigns(store: Store, account: Account) -> list[CampaignInfo]:
    """The campaigns ``account`` may see, by name, with progress."""

    def work(session: Session) -> list[CampaignInfo]:
        query = select(ReviewCampaign).order_by(ReviewCampaign.name)
        if not account.is_admin:
            query = query.join(ReviewMember, ReviewMember.campaign_id == ReviewCampaign.id).where(
                ReviewMember.user_id == account.id
            )
        return [_info(r, _counts(session, r.id, r.overlap)) for r in session.scalars(query)]

    return store.transact(work)


def add_members(store: Store, name: str, usernames: list[str]) -> None:
    """Let these users review campaign ``name`` (already members are left as they are)."""

    def work(session: Session) -> None:
        row = _find(session, name)
        if row is None:
            raise InputError(f"no campaign {name!r}", field="campaign")
        add_members_in(session, row.id, usernames)

    store.transact(work, write=True)


def add_members_in(session: Session, campaign_id: int, usernames: list[str]) -> None:
    """``add_members`` inside ``session``, by campaign id."""
    for username in usernames:
        user_id = session.scalar(select(User.id).where(User.username == username))
        if user_id is None:
            raise InputError(f"no user {username!r}", field="username")
        if session.get(ReviewMember, (campaign_id, user_id)) is None:
            session.add(ReviewMember(campaign_id=campaign_id, user_id=user_id))


def members(store: Store, name: str) -> list[str]:
    """User names of the campaign's members."""

    def work(session: Session) -> list[str]:
        row = _find(session, name)
        if row is None:
            raise InputError(f"no campaign {name!r}", field="campaign")
        query = (
            select(User.username)
            .join(ReviewMember, ReviewMember.user_id == User.id)
            .where(ReviewMember.campaign_id == row.id)
            .order_by(User.username)
        )
        return list(session.scalars(query))

    return store.transact(work)

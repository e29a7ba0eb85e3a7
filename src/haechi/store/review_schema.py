"""ORM models of human review: users and their web sessions, review campaigns with their
members, items, assignments, labels and adjudicated gold labels; the login attempts that
the failure limit counts and the web app's server secrets.

Like ``schema``, these tables are created only by the alembic migrations (0003, 0004).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from haechi.store.schema import Base


class User(Base):
    """A person who logs in to the web app. ``password_hash`` is an argon2 hash; ``None``
    for annotators whose labels were imported (they cannot log in)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))  # "admin" | "reviewer" | "annotator"
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]


class WebSession(Base):
    """A logged-in browser. Only the SHA-256 of the cookie's token is stored, so a copy of
    the database does not let anyone log in."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class LoginAttempt(Base):
    """One password check, counted before it runs, against ``key`` (``user:<name>`` or
    ``ip:<address>``); rows older than the limit's window are deleted."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128))
    attempted_at: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (Index("ix_login_attempts_key_attempted_at", "key", "attempted_at"),)


class WebSecret(Base):
    """A random secret the web app signs with (``login_form``: the login form's tokens),
    made by the migration so every worker and process shares it."""

    __tablename__ = "web_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class ReviewCampaign(Base):
    """A set of items to label under one label schema; each item goes to ``overlap``
    distinct reviewers."""

    __tablename__ = "review_campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    label_schema: Mapped[dict[str, Any]]
    overlap: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class ReviewMember(Base):
    """A reviewer allowed to see a campaign's items (admins see every campaign)."""

    __tablename__ = "review_members"

    campaign_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("review_campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class ReviewItem(Base):
    """One thing to label: a prompt and response (``turns`` holds a whole conversation,
    ``chain`` the attack chain) with the detectors' ``verdicts``, shown only after a
    reviewer's own label is in."""

    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("review_campaigns.id", ondelete="CASCADE")
    )
    external_id: Mapped[str] = mapped_column(String(255))
    prompt: Mapped[str] = mapped_column(Text)
    response: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(255))  # "import", "redteam:<run>", ...
    turns: Mapped[dict[str, Any]]  # {"turns": [{"role": ..., "content": ...}]}
    chain: Mapped[dict[str, Any]]
    verdicts: Mapped[dict[str, Any]]  # {"verdicts": [...], "success": bool | None}
    created_at: Mapped[datetime]

    # starts with campaign_id, so it is also campaign_id's index
    __table_args__ = (UniqueConstraint("campaign_id", "external_id"),)


class ReviewAssignment(Base):
    """An item handed to a reviewer. ``slot`` (0 … overlap-1) is unique per item, which
    caps an item at ``overlap`` reviewers even when many ask at once; a skipped
    assignment gives its slot back (``slot`` is NULL, and NULLs never collide)."""

    __tablename__ = "review_assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(Integer, ForeignKey("review_items.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    slot: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # "open" | "submitted" | "skipped"
    assigned_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("item_id", "user_id"),
        UniqueConstraint("item_id", "slot"),
    )


class ReviewLabel(Base):
    """One reviewer's label of one item: at most one per (item, reviewer), so a repeated
    submission can only update it, never add a second."""

    __tablename__ = "review_labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(Integer, ForeignKey("review_items.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    label_values: Mapped[dict[str, Any]]
    flagged: Mapped[bool] = mapped_column(Boolean)
    seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("item_id", "user_id"),)


class ReviewGold(Base):
    """The adjudicated label of an item, set by an admin; it is the item's gold label."""

    __tablename__ = "review_gold"

    item_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("review_items.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="SET NULL")
    )
    label_values: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]

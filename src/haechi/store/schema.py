"""ORM models of the results store: ``runs`` and their ``results``.

The tables are created and changed only by the alembic migrations in
``haechi/store/migrations/versions``; a test checks that these models and the
migrations agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Deterministic constraint names, so later migrations can refer to them on every
# backend (SQLite's batch mode needs names to drop or change a constraint).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSON on every backend, JSONB (indexable, compact) on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime`` on every backend.

    SQLite has no time zones: values are stored as naive UTC and come back with
    ``tzinfo=UTC``. Naive values are refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSONType,
        datetime: UTCDateTime(),
    }


class Run(Base):
    """One evaluation (or other) run of one model."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # uuid4 hex
    kind: Mapped[str] = mapped_column(String(32))  # "eval", ...
    name: Mapped[str | None] = mapped_column(String(255))
    model_spec: Mapped[str] = mapped_column(Text)
    model_fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))  # "running" | "completed" | "failed"
    config: Mapped[dict[str, Any]]
    versions: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)

    results: Mapped[list[Result]] = relationship(
        back_populates="run",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Result.id",
    )

    __table_args__ = (Index("ix_runs_kind_created_at", "kind", "created_at"),)


class Result(Base):
    """One metric of one task in one run; ``is_primary`` marks the task's headline metric."""

    __tablename__ = "results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The unique constraint below starts with run_id, so it also serves as run_id's index.
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id", ondelete="CASCADE"))
    task: Mapped[str] = mapped_column(String(255))
    metric: Mapped[str] = mapped_column(String(255))
    value: Mapped[float] = mapped_column(Float)
    stderr: Mapped[float | None] = mapped_column(Float)
    n: Mapped[int] = mapped_column(Integer)
    is_primary: Mapped[bool] = mapped_column(Boolean)
    is_group: Mapped[bool] = mapped_column(Boolean)

    run: Mapped[Run] = relationship(back_populates="results")

    __table_args__ = (UniqueConstraint("run_id", "task", "metric"),)


class Attempt(Base):
    """One red-team attempt: the whole chain from seed to response (``chain`` JSON: the
    generator's output, the converters applied, every turn sent and received)."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))  # stable across resumes
    seed_id: Mapped[str] = mapped_column(String(255))
    category: Mapped[str] = mapped_column(String(64))
    benign: Mapped[bool] = mapped_column(Boolean)
    generator: Mapped[str] = mapped_column(String(255))
    converters: Mapped[str] = mapped_column(String(255))  # "base64+jamo", "" for none
    turns: Mapped[int] = mapped_column(Integer)
    success: Mapped[bool | None] = mapped_column(Boolean)  # the campaign's decision
    chain: Mapped[dict[str, Any]]
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]

    verdicts: Mapped[list[AttemptVerdict]] = relationship(
        back_populates="attempt",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="AttemptVerdict.id",
    )

    # starts with run_id, so it is also run_id's index
    __table_args__ = (UniqueConstraint("run_id", "key"),)


class AttemptVerdict(Base):
    """One detector's verdict on one attempt; ``raw`` keeps the detector's own output."""

    __tablename__ = "attempt_verdicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    attempt_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("attempts.id", ondelete="CASCADE"), index=True
    )
    detector: Mapped[str] = mapped_column(String(255))
    success: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float | None] = mapped_column(Float)
    labels: Mapped[dict[str, Any]]  # {"labels": [...]}
    raw: Mapped[str] = mapped_column(Text)
    turn: Mapped[int | None] = mapped_column(Integer)  # the target's turn judged, from 1

    attempt: Mapped[Attempt] = relationship(back_populates="verdicts")


class AttemptProgress(Base):
    """A multi-turn attempt in progress: its state after the last completed turn (``state``
    JSON, the generator's own), so a resumed run goes on mid-conversation. Removed when
    the attempt is stored."""

    __tablename__ = "attempt_progress"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))  # the attempt's key
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("run_id", "key"),)

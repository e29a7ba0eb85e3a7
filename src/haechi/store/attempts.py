"""Red-team attempts in the store: each with its chain and every detector's verdict."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from haechi.store.records import Store, _require_run
from haechi.store.schema import Attempt, AttemptProgress, AttemptVerdict


class VerdictRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    detector: str
    success: bool
    score: float | None = None
    labels: tuple[str, ...] = ()
    raw: str = ""
    turn: int | None = None  # the target's turn judged, from 1 (None: stored before turns)


class AttemptRecord(BaseModel):
    """One attempt as stored; ``key`` identifies it across resumes of the same campaign."""

    model_config = ConfigDict(frozen=True)

    key: str
    seed_id: str
    category: str
    benign: bool
    generator: str
    converters: str
    turns: int
    success: bool | None
    chain: dict[str, Any]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    error: str | None = None
    verdicts: tuple[VerdictRecord, ...] = ()


def add_attempts(store: Store, run_id: str, attempts: Sequence[AttemptRecord]) -> None:
    """Store attempts with their verdicts in one transaction: all of them or none. A key
    already stored for this run is an error (resumed runs skip stored keys first). Their
    progress (``save_progress``) goes in the same transaction."""

    def work(session: Session) -> None:
        _require_run(session, run_id)
        now = datetime.now(UTC)
        keys = [record.key for record in attempts]
        session.execute(
            delete(AttemptProgress).where(
                AttemptProgress.run_id == run_id, AttemptProgress.key.in_(keys)
            )
        )
        for record in attempts:
            row = Attempt(
                run_id=run_id,
                created_at=now,
                **record.model_dump(exclude={"verdicts"}),
            )
            row.verdicts = [
                AttemptVerdict(
                    detector=v.detector,
                    success=v.success,
                    score=v.score,
                    labels={"labels": list(v.labels)},
                    raw=v.raw,
                    turn=v.turn,
                )
                for v in record.verdicts
            ]
            session.add(row)

    store.transact(work, write=True)


def save_progress(store: Store, run_id: str, states: dict[str, dict[str, Any]]) -> None:
    """Keep each attempt's state (by key) after a completed turn, replacing the one kept
    before, all in one transaction."""

    def work(session: Session) -> None:
        _require_run(session, run_id)
        now = datetime.now(UTC)
        rows = session.scalars(
            select(AttemptProgress).where(
                AttemptProgress.run_id == run_id, AttemptProgress.key.in_(list(states))
            )
        ).all()
        kept = {row.key: row for row in rows}
        for key, state in states.items():
            if key in kept:
                kept[key].state, kept[key].updated_at = state, now
            else:
                session.add(AttemptProgress(run_id=run_id, key=key, state=state, updated_at=now))

    if states:
        store.transact(work, write=True)


def load_progress(store: Store, run_id: str) -> dict[str, dict[str, Any]]:
    """The kept state of every attempt of a run still in progress, by key."""

    def work(session: Session) -> dict[str, dict[str, Any]]:
        rows = session.scalars(select(AttemptProgress).where(AttemptProgress.run_id == run_id))
        return {row.key: row.state for row in rows}

    return store.transact(work)


def attempt_keys(store: Store, run_id: str) -> set[str]:
    """Keys of the attempts already stored for a run (what a resumed run skips)."""
    return set(
        store.transact(
            lambda s: s.scalars(select(Attempt.key).where(Attempt.run_id == run_id)).all()
        )
    )


def load_attempts(store: Store, run_id: str) -> list[AttemptRecord]:
    """Every attempt of a run, in the order they were stored."""

    def work(session: Session) -> list[AttemptRecord]:
        rows = session.scalars(
            select(Attempt)
            .where(Attempt.run_id == run_id)
            .options(selectinload(Attempt.verdicts))
            .order_by(Attempt.id)
        ).all()
        return [_to_record(row) for row in rows]

    return store.transact(work)


def _to_record(row: Attempt) -> AttemptRecord:
    return AttemptRecord(
        key=row.key,
        seed_id=row.seed_id,
        category=row.category,
        benign=row.benign,
        generator=row.generator,
        converters=row.converters,
        turns=row.turns,
        success=row.success,
        chain=row.chain,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        seconds=row.seconds,
        error=row.error,
        verdicts=tuple(
            VerdictRecord(
                detector=v.detector,
                success=v.success,
                score=v.score,
                labels=tuple(v.labels.get("labels", [])),
                raw=v.raw,
                turn=v.turn,
            )
            for v in row.verdicts
        ),
    )

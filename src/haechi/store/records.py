"""The ``Store``: record runs and their results, read them back."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from haechi.errors import HaechiError
from haechi.store.db import SQLITE_BEGIN, create_store_engine, migrate, redacted_url, resolve_url
from haechi.store.schema import Result, Run

RunStatus = Literal["running", "completed", "failed"]
_LOCK_RETRIES = 8
_T = TypeVar("_T")


class RunNotFoundError(HaechiError):
    """No run has the given id."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run with id {run_id!r} in the results store")
        self.run_id = run_id


class ResultRecord(BaseModel):
    """One metric of one task: ``value`` must be finite; a NaN or infinite ``stderr`` is
    stored as ``None``. ``n`` counts the documents scored. ``is_primary`` marks the task's
    headline metric; ``is_group`` marks a group (such as ``ko_h5``) whose value aggregates
    its tasks."""

    model_config = ConfigDict(frozen=True)

    task: str
    metric: str
    value: float
    stderr: float | None
    n: int
    is_primary: bool = False
    is_group: bool = False

    @field_validator("value")
    @classmethod
    def _finite_value(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number, got {value}")
        return value

    @field_validator("stderr")
    @classmethod
    def _finite_or_none(cls, value: float | None) -> float | None:
        return value if value is not None and math.isfinite(value) else None


class RunRecord(BaseModel):
    """A run as stored: times are timezone-aware UTC; ``finished_at`` is ``None`` while
    running; ``error`` says why a failed run failed."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: str
    name: str | None
    model_spec: str
    model_fingerprint: str
    status: RunStatus
    config: dict[str, Any]
    versions: dict[str, Any]
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    results: list[ResultRecord]


def open_store(url: str | None = None) -> Store:
    """Open the results store at ``url`` (else ``$HAECHI_DB``, else the default SQLite
    file; see ``haechi.store.db``), migrating its schema to the newest revision first."""
    resolved = resolve_url(url)
    engine = create_store_engine(resolved)
    try:
        migrate(engine)
    except OperationalError as exc:
        engine.dispose()
        raise HaechiError(
            f"cannot open the results store at {redacted_url(resolved)}: {exc.orig}"
        ) from exc
    except BaseException:
        engine.dispose()
        raise
    return Store(engine)


class Store:
    """Runs and results in one database. Open with ``open_store``; close when done (or use
    it as a context manager). Threads may share one; each process opens its own."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._read = sessionmaker(engine, expire_on_commit=False)
        # On SQLite, writers take the write lock when they begin (BEGIN IMMEDIATE) and
        # wait for it there, rather than failing to upgrade a read lock mid-transaction.
        writer = engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        self._write = sessionmaker(writer, expire_on_commit=False)
        # SQLite has one writer at a time and its busy handler polls with sleeps of up to
        # 100 ms; threads of this process queue on a lock instead, which keeps write
        # latency low under many concurrent requests (other processes still wait on the
        # busy timeout).
        self._write_lock: AbstractContextManager[object] = (
            threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()
        )

    @property
    def url(self) -> str:
        """The database URL, password included: show ``redacted_url()`` instead."""
        return self._engine.url.render_as_string(hide_password=False)

    def redacted_url(self) -> str:
        """The database URL with any password replaced by ``***``."""
        return redacted_url(self.url)

    def __repr__(self) -> str:
        return f"Store({self.redacted_url()!r})"

    def start_run(
        self,
        kind: str,
        model_spec: str,
        model_fingerprint: str,
        config: Mapping[str, Any],
        versions: Mapping[str, Any],
        name: str | None = None,
    ) -> str:
        """Record a new ``running`` run and return its id (32 hex characters).

        ``config`` is the run's full configuration and ``versions`` the package versions;
        both are stored as JSON (values that are not JSON types are stored as ``str()``).
        """
        run = Run(
            id=uuid.uuid4().hex,
            kind=kind,
            name=name,
            model_spec=model_spec,
            model_fingerprint=model_fingerprint,
            status="running",
            config=dict(config),
            versions=dict(versions),
            created_at=datetime.now(UTC),
        )
        self.transact(lambda session: session.add(run), write=True)
        return run.id

    def add_results(self, run_id: str, results: Sequence[ResultRecord]) -> None:
        """Attach ``results`` to the run, all or none. A run holds one value per
        (task, metric): adding one twice raises ``HaechiError``."""

        def work(session: Session) -> None:
            _require_run(session, run_id)
            session.add_all(
                Result(run_id=run_id, **record.model_dump(mode="python")) for record in results
            )

        try:
            self.transact(work, write=True)
        except IntegrityError as exc:
            raise HaechiError(
                f"run {run_id} already has a result for one of these task/metric pairs: {exc.orig}"
            ) from exc

    def finish_run(
        self,
        run_id: str,
        status: Literal["completed", "failed"] = "completed",
        error: str | None = None,
    ) -> None:
        """Mark a running run ``completed`` or ``failed`` (with ``error``) and stamp
        ``finished_at``. Raises ``HaechiError`` when the run already finished."""
        if status not in ("completed", "failed"):
            raise ValueError(f"status must be 'completed' or 'failed', not {status!r}")

        def work(session: Session) -> None:
            run = _require_run(session, run_id)
            if run.status != "running":
                raise HaechiError(f"run {run_id} already finished ({run.status})")
            run.status, run.error, run.finished_at = status, error, datetime.now(UTC)

        self.transact(work, write=True)

    def reopen_run(self, run_id: str) -> None:
        """Mark a failed run running again (a resumed campaign goes on with it)."""

        def work(session: Session) -> None:
            run = _require_run(session, run_id)
            if run.status == "failed":
                run.status, run.error, run.finished_at = "running", None, None

        self.transact(work, write=True)

    def get_run(self, run_id: str) -> RunRecord:
        """The run with its results, in the order they were added."""

        def work(session: Session) -> RunRecord:
            run = session.get(Run, run_id, options=[selectinload(Run.results)])
            if run is None:
                raise RunNotFoundError(run_id)
            return _to_record(run)

        return self.transact(work)

    def list_runs(self, kind: str | None = None, limit: int | None = 50) -> list[RunRecord]:
        """Runs newest first (by start time), with their results; ``kind`` filters;
        ``limit=None`` returns all."""
        query = select(Run).options(selectinload(Run.results)).order_by(Run.created_at.desc())
        if kind is not None:
            query = query.where(Run.kind == kind)
        if limit is not None:
            query = query.limit(limit)
        return self.transact(lambda s: [_to_record(run) for run in s.scalars(query)])

    def find_running(
        self, kind: str, config_key: str, value: object, *, name: str | None = None
    ) -> str | None:
        """The newest still-``running`` run of ``kind`` whose config has ``config_key`` ==
        ``value`` (and, if given, this ``name``): what an interrupted run resumes."""
        for run in self.list_runs(kind=kind, limit=None):
            if (
                run.status == "running"
                and run.config.get(config_key) == value
                and (name is None or run.name == name)
            ):
                return run.id
        return None

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def transact(self, work: Callable[[Session], _T], *, write: bool = False) -> _T:
        """Run ``work`` in one transaction (committed when it returns), retrying when
        SQLite reports the database locked beyond its busy timeout."""
        sessions = self._write if write else self._read
        for attempt in range(_LOCK_RETRIES + 1):
            try:
                lock = self._write_lock if write else nullcontext()
                with lock, sessions() as session, session.begin():
                    return work(session)
            except OperationalError as exc:
                if attempt == _LOCK_RETRIES or not _is_locked(exc):
                    raise
                time.sleep(min(0.05 * 2**attempt, 2.0))
        raise AssertionError("unreachable")


def _require_run(session: Session, run_id: str) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise RunNotFoundError(run_id)
    return run


def _is_locked(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    return "database is locked" in message or "database is busy" in message


def _to_record(run: Run) -> RunRecord:
    results = [
        ResultRecord(
            task=r.task,
            metric=r.metric,
            value=r.value,
            stderr=r.stderr,
            n=r.n,
            is_primary=r.is_primary,
            is_group=r.is_group,
        )
        for r in run.results
    ]
    return RunRecord.model_validate(
        {column: getattr(run, column) for column in RunRecord.model_fields if column != "results"}
        | {"results": results}
    )

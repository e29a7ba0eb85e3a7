"""Where the results store lives, how haechi connects to it, and keeping its schema current.

By default the store is one SQLite file, ``haechi.paths.data_dir() / "haechi.db"``: that is
``$HAECHI_HOME/haechi.db``, else ``$XDG_DATA_HOME/haechi/haechi.db``, else
``~/.local/share/haechi/haechi.db`` (its folder is created on first use). An explicit URL
(the CLI's ``--db``) wins over ``$HAECHI_DB``, which wins over the default. Either may be any
SQLAlchemy URL (``postgresql+psycopg://user:password@host/db``) or a plain file path, taken
as a SQLite file.

SQLite runs in WAL mode with foreign keys on and a 30 s busy timeout; writes begin with
``BEGIN IMMEDIATE`` so concurrent writers in several processes queue for the lock instead
of failing halfway through a transaction.

The schema is kept by alembic migrations (``migrations/versions``), applied by ``migrate``
whenever a store is opened. Migrations are serialised across processes: a ``FileLock``
next to a SQLite file, ``pg_advisory_xact_lock`` on PostgreSQL. A database already at the
newest revision is only read, never locked.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock, Timeout
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from haechi.errors import HaechiError, InputError, MissingExtraError
from haechi.paths import data_dir

DEFAULT_FILENAME = "haechi.db"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_S = 30.0
MIGRATION_LOCK_TIMEOUT_S = 600.0
# Execution option read by the SQLite "begin" hook: "DEFERRED" (reads) or "IMMEDIATE" (writes).
SQLITE_BEGIN = "haechi_sqlite_begin"
# Any fixed bigint works; this one is the first 8 bytes of sha256(b"haechi.store.migrations")
# read as a signed big-endian integer.
_PG_MIGRATION_LOCK_KEY = -3046902238253432533


def resolve_url(url: str | None = None) -> str:
    """The store's SQLAlchemy URL: ``url``, else ``$HAECHI_DB``, else the default SQLite file.

    A value without ``://`` is a filesystem path and becomes a ``sqlite:///`` URL to its
    absolute form. Raises ``InputError`` for a URL SQLAlchemy cannot parse.
    """
    source = "--db"
    if not url:
        url, source = os.environ.get("HAECHI_DB") or None, "HAECHI_DB"
    if not url:
        return _sqlite_url(data_dir() / DEFAULT_FILENAME)
    if "://" not in url:
        return _sqlite_url(Path(url).expanduser())
    try:
        make_url(url)
    except ArgumentError as exc:
        raise InputError(
            f"not a database URL: {_redact_unparsed(url)}",
            field=source,
            hint="use a SQLAlchemy URL such as postgresql+psycopg://user@host/db, or a file path",
        ) from exc
    return url


def redacted_url(url: str) -> str:
    """``url`` safe to show or log: any password is replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return _redact_unparsed(url)


def create_store_engine(url: str) -> Engine:
    """An engine for ``url`` (already resolved), with haechi's SQLite settings applied.

    Creates the folder of a SQLite file. Raises ``MissingExtraError`` when the URL's
    driver is not installed and ``InputError`` for an unknown backend.
    """
    parsed = make_url(url)
    options: dict[str, Any] = {"json_serializer": _dump_json}
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite and is_sqlite_memory(url):
        # One shared connection, or every checkout would see a different empty database.
        options |= {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    elif sqlite:
        if parsed.query.get("uri") != "true":  # a file: URI (mode=ro...) names its own file
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": BUSY_TIMEOUT_S}
    try:
        engine = create_engine(parsed, **options)
    except ModuleNotFoundError as exc:
        if parsed.get_backend_name() == "postgresql":
            raise MissingExtraError(exc.name or "psycopg", "postgres") from exc
        raise HaechiError(
            f"the database driver for {parsed.drivername} is not installed ({exc})"
        ) from exc
    except ArgumentError as exc:
        raise InputError(f"unsupported database URL {redacted_url(url)}: {exc}") from exc
    if sqlite:
        _configure_sqlite(engine)
    return engine


def is_sqlite_memory(url: str) -> bool:
    """True for an in-memory SQLite URL (``sqlite://`` or ``sqlite:///:memory:``)."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def migrate(engine: Engine) -> None:
    """Upgrade the database behind ``engine`` to the newest revision this haechi ships.

    Safe to call from many processes at once: one migrates, the others wait and then find
    the database current. Raises ``HaechiError`` when the database was written by a newer
    haechi (a revision this one does not know).
    """
    script = _script()
    heads = set(script.get_heads())
    if _checked_heads(_current_heads(engine), engine) == heads:
        return
    sqlite = engine.dialect.name == "sqlite"
    with _migration_lock(engine), engine.connect() as conn:
        if sqlite:
            # Off while tables may be rebuilt: with foreign keys on, SQLite's DROP TABLE
            # deletes (and cascades to) child rows. The pragma is ignored inside a
            # transaction, so it goes to the driver before SQLAlchemy begins one.
            _sqlite_pragma(conn, "PRAGMA foreign_keys = OFF")
        try:
            with conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"}).begin():
                if engine.dialect.name == "postgresql":
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK_KEY}
                    )
                current = MigrationContext.configure(conn).get_current_heads()
                if _checked_heads(current, engine) != heads:
                    command.upgrade(alembic_config(connection=conn), "head")
                    if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                        raise HaechiError(
                            "a migration left rows pointing at missing rows; nothing was changed"
                        )
        finally:
            if sqlite:
                _sqlite_pragma(conn, "PRAGMA foreign_keys = ON")


def current_revisions(engine: Engine) -> tuple[str, ...]:
    """The alembic revision(s) the database is at; empty for a database never migrated."""
    return _current_heads(engine)


def head_revisions() -> tuple[str, ...]:
    """The newest revision(s) this haechi's migrations define."""
    return tuple(_script().get_heads())


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An alembic ``Config`` for haechi's migrations, built in code (no alembic.ini).

    ``migrate`` passes ``connection``; developers writing a new revision pass ``url`` of a
    database at head (see ``migrations/env.py``).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


@functools.cache
def _known_revisions() -> frozenset[str]:
    return frozenset(rev.revision for rev in _script().walk_revisions())


def _current_heads(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as conn:
        return tuple(MigrationContext.configure(conn).get_current_heads())


def _checked_heads(current: tuple[str, ...], engine: Engine) -> set[str]:
    unknown = sorted(set(current) - _known_revisions())
    if unknown:
        raise HaechiError(
            f"the results store {redacted_url(str(engine.url))} is at schema revision "
            f"{', '.join(unknown)}, which this haechi does not know: it was written by a newer "
            "haechi. Upgrade haechi (pip install -U haechi) or point --db/HAECHI_DB elsewhere."
        )
    return set(current)


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """A cross-process lock for SQLite files; PostgreSQL locks inside the transaction."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "sqlite" or is_sqlite_memory(url):
        yield
        return
    lock_path = f"{engine.url.database}.migrate.lock"
    try:
        with FileLock(lock_path, timeout=MIGRATION_LOCK_TIMEOUT_S):
            yield
    except Timeout as exc:
        raise HaechiError(
            f"waited {MIGRATION_LOCK_TIMEOUT_S:.0f} s for another process to finish "
            f"migrating {engine.url.database} (lock: {lock_path})"
        ) from exc


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _: ConnectionPoolEntry) -> None:
        # SQLAlchemy emits BEGIN itself (below); the driver's own implicit BEGINs are
        # disabled so every statement, DDL and SELECT included, runs in our transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    """Switch a database file to WAL (it stays so). The switch needs an exclusive lock and
    SQLite answers "database is locked" at once, without its busy timeout, while another
    process holds the file, as when several processes open a new store together: retry."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.01
    while True:
        try:
            # answers the mode now in force: "memory" for an in-memory database, which
            # cannot use WAL, is final too
            cursor.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def _sqlite_pragma(conn: Connection, pragma: str) -> None:
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    driver.execute(pragma)


def _sqlite_url(path: Path) -> str:
    database = str(path.expanduser().absolute())
    return URL.create("sqlite", database=database).render_as_string(hide_password=False)


def _redact_unparsed(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        return f"{scheme}://***@{rest.rpartition('@')[2]}"
    return url


def _dump_json(value: Any) -> str:
    # Korean text stays readable in the database; paths and other objects become strings.
    return json.dumps(value, ensure_ascii=False, default=str)

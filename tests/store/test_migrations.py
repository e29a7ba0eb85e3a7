"""Opening a store: where it lives, its connection settings, and its schema migrations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, event, inspect, text

from haechi.errors import HaechiError, InputError
from haechi.store import open_store, redacted_url, resolve_url
from haechi.store.db import (
    alembic_config,
    create_store_engine,
    current_revisions,
    head_revisions,
)
from haechi.store.schema import Base


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_store_engine(db_url)
    yield engine
    engine.dispose()


def test_fresh_database_is_migrated_to_head(db_url: str, engine: Engine) -> None:
    assert current_revisions(engine) == ()
    with open_store(db_url):
        pass
    tables = {
        "runs",
        "results",
        "attempts",
        "attempt_verdicts",
        "users",
        "review_labels",
        "alembic_version",
    }
    assert tables <= set(inspect(engine).get_table_names())
    assert current_revisions(engine) == head_revisions()
    assert head_revisions() == ("0005",)


def test_reopening_at_head_only_reads(db_url: str) -> None:
    with open_store(db_url) as store:
        run_id = store.start_run("eval", "hf/x", "fp", {}, {})
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.strip().upper())

    event.listen(Engine, "before_cursor_execute", record)
    try:
        with open_store(db_url) as store:
            assert store.get_run(run_id).model_spec == "hf/x"
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    writes = ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE", "SELECT PG_ADVISORY")
    assert statements
    assert not [s for s in statements if s.startswith(writes)]


def test_models_match_migrations(db_url: str, engine: Engine) -> None:
    open_store(db_url).close()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_then_upgrade_round_trips(db_url: str, engine: Engine) -> None:
    open_store(db_url).close()
    with engine.begin() as conn:
        command.downgrade(alembic_config(connection=conn), "base")
    assert "runs" not in inspect(engine).get_table_names()
    with open_store(db_url) as store:
        store.start_run("eval", "hf/x", "fp", {}, {})
    assert current_revisions(engine) == head_revisions()


def test_database_from_newer_haechi_is_refused(db_url: str, engine: Engine) -> None:
    open_store(db_url).close()
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(HaechiError, match="newer haechi") as caught:
        open_store(db_url)
    assert "Upgrade haechi" in str(caught.value)
    assert "9999_from_the_future" in str(caught.value)


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    engine = create_store_engine(resolve_url(str(tmp_path / "s.db")))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    finally:
        engine.dispose()


def test_in_memory_sqlite_works() -> None:
    with open_store("sqlite://") as store:
        run_id = store.start_run("eval", "hf/x", "fp", {}, {})
        assert store.get_run(run_id).status == "running"


def test_default_location_is_in_the_data_folder(isolated_home: Path) -> None:
    expected = isolated_home / "haechi.db"
    assert resolve_url() == f"sqlite:///{expected}"
    with open_store() as store:
        assert store.url == f"sqlite:///{expected}"
    assert expected.exists()


def test_env_var_then_argument_win(
    tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAECHI_DB", str(tmp_path / "from-env.db"))
    assert resolve_url() == f"sqlite:///{tmp_path / 'from-env.db'}"
    assert resolve_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    nested = tmp_path / "a" / "b" / "arg.db"
    with open_store(str(nested)) as store:
        assert store.url == f"sqlite:///{nested}"
    assert nested.exists()
    assert not (isolated_home / "haechi.db").exists()


def test_relative_and_home_paths_become_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_url("rel.db") == f"sqlite:///{tmp_path / 'rel.db'}"
    assert resolve_url("~/x.db") == f"sqlite:///{tmp_path / 'home' / 'x.db'}"


def test_passwords_are_redacted() -> None:
    url = "postgresql+psycopg://alice:s3cret@db.example:5432/haechi"
    assert redacted_url(url) == "postgresql+psycopg://alice:***@db.example:5432/haechi"
    assert "s3cret" not in redacted_url("postgresql+psycopg://alice:s3cret@[bad")


def test_bad_url_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAECHI_DB", "not a url://x:y@")
    with pytest.raises(InputError, match="HAECHI_DB"):
        resolve_url()
    with pytest.raises(InputError):
        open_store("nosuchdialect://host/db")


def test_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(HaechiError, match=r"cannot open the results store.*\*\*\*") as caught:
        open_store("postgresql+psycopg://alice:s3cret@127.0.0.1:1/haechi?connect_timeout=2")
    assert "s3cret" not in str(caught.value)

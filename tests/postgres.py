"""Database fixtures (imported by tests/conftest.py): ``db_url`` runs each test against a fresh SQLite file and a fresh
PostgreSQL database.

PostgreSQL comes from ``$HAECHI_TEST_POSTGRES_URL`` (a server where the user may create
databases), else from a throwaway server started with the local PostgreSQL binaries
(Debian: ``apt-get install postgresql``). Without either, PostgreSQL cases are skipped,
unless ``HAECHI_REQUIRE_POSTGRES=1`` (CI), where they fail.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import create_engine, make_url, text


def _pg_bindir() -> Path | None:
    """The newest local PostgreSQL server's bin folder (Debian keeps them off PATH)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    for folder in reversed(candidates):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("HAECHI_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"HAECHI_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server (its ``postgres`` database) for the whole session."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'haechi[postgres]')")
    if url := os.environ.get("HAECHI_TEST_POSTGRES_URL"):
        yield url
        return
    bindir = _pg_bindir()
    if bindir is None:
        _unavailable(
            "no PostgreSQL server binaries (initdb, pg_ctl) found: apt-get install postgresql,"
            " or set HAECHI_TEST_POSTGRES_URL"
        )
    # initdb refuses to run as root, so a root test run hands the server to `postgres`.
    as_user: list[str] = []
    root = tempfile.mkdtemp(prefix="haechi-pg-")
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no 'postgres' user to run the server")
        os.chown(root, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log = f"{root}/data", f"{root}/server.log"
    port = _free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            server_log = Path(log).read_text() if Path(log).exists() else ""
            pytest.fail(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}{server_log}")

    try:
        run(str(bindir / "initdb"), "-D", data, "-U", "haechi", "-A", "trust", "-E", "UTF8")
        run(
            str(bindir / "pg_ctl"),
            *("-D", data, "-l", log, "-w", "-t", "60", "start"),
            "-o",
            f"-F -p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={root}",
        )
        yield f"postgresql+psycopg://haechi@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped after the test."""
    name = f"haechi_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'haechi.db'}"
    return str(request.getfixturevalue("postgres_url"))

"""Web fixtures: the app served by uvicorn on loopback over a store with users, a
campaign and items; clients that log in like a browser does."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from tests.review.conftest import PASSWORD, ReviewSetup, build_setup

from haechi.store import Store, open_store

if TYPE_CHECKING:
    from tests.web.lab import Lab


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """An ASGI app served by uvicorn in a thread on a free loopback port, with the
    settings of ``haechi serve``."""

    def __init__(self, app: object, **settings: Any) -> None:
        import uvicorn

        from haechi.web.server import server_config

        self.port = _free_port()
        self.server = uvicorn.Server(server_config(app, port=self.port, **settings))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Site:
    url: str
    setup: ReviewSetup
    db_url: str


def login(url: str, username: str, password: str = PASSWORD) -> httpx.Client:
    """A client holding a logged-in session (fetches the login form for its CSRF token)."""
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=30)
    page = client.get("/login")
    token = csrf_of(page.text)
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 303, response.text
    return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture
def site_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'web.db'}"


@pytest.fixture
def site(site_db: str) -> Iterator[Site]:
    from haechi.web import create_app

    with open_store(site_db) as store:
        setup = build_setup(store)
        with LiveServer(create_app(store=store)) as server:
            yield Site(server.url, setup, site_db)


def artifacts_dir() -> Path:
    """Where browser tests leave screenshots (CI keeps this folder)."""
    folder = Path(os.environ.get("HAECHI_TEST_ARTIFACTS", "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def lab_store(
    tiny_llama_dir: Path, tiny_qwen2_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Store, Lab]]:
    """One store of real runs for the evaluation and model pages (``tests/web/lab.py``),
    built once per session: the tests only read it."""
    from tests.web.lab import build_lab

    tmp = tmp_path_factory.mktemp("lab")
    with open_store(f"sqlite:///{tmp / 'lab.db'}") as store:
        yield store, build_lab(store, tiny_llama_dir, tiny_qwen2_dir, tmp)


@pytest.fixture(scope="module")
def lab_site(lab_store: tuple[Store, Lab]) -> Iterator[tuple[str, Lab]]:
    """The app over the lab store, on loopback."""
    from haechi.web import create_app

    store, lab = lab_store
    with LiveServer(create_app(store=store)) as server:
        yield server.url, lab

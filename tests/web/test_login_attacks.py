"""Attacks on logging in, against real servers on loopback (part of the security tests):
many simultaneous guesses for one user across two server processes, on SQLite and
PostgreSQL; and login-form tokens that the server did not make."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from tests.review.conftest import PASSWORD, build_setup
from tests.web.conftest import LiveServer, Site, _free_port, csrf_of

from haechi.store import open_store
from haechi.store.review_schema import LoginAttempt
from haechi.web import create_app
from haechi.web.security import LOGIN_CSRF_COOKIE

# real subprocesses of the CLI or the server: make test-fast leaves them out
pytestmark = pytest.mark.slow

LIMIT = 10  # create_app's and haechi serve's default


@contextmanager
def haechi_serve(db_url: str, *options: str, log: Path | None = None) -> Iterator[str]:
    """``haechi serve`` in its own process, its output going to ``log`` (a temporary file
    when not given: a pipe nobody reads would fill and stall the server); yields its URL
    once it answers."""
    port = _free_port()
    command = [sys.executable, "-m", "haechi", "serve", "--port", str(port), "--db", db_url]
    url = f"http://127.0.0.1:{port}"
    with open(log, "w+b") if log else tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            [*command, *options], stdout=output, stderr=subprocess.STDOUT, env=os.environ
        )
        try:
            for _ in range(1200):  # a loaded machine takes a while to import everything
                try:
                    httpx.get(f"{url}/login", timeout=1)
                    break
                except httpx.TransportError:
                    if process.poll() is not None:
                        output.seek(0)
                        raise RuntimeError(
                            f"haechi serve exited: {output.read().decode()}"
                        ) from None
                    time.sleep(0.1)
            else:
                raise RuntimeError("haechi serve did not answer")
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def login_form(url: str) -> tuple[str, str]:
    """A login form's token and its cookie, as a browser gets them."""
    page = httpx.get(f"{url}/login", timeout=120)
    return csrf_of(page.text), page.cookies[LOGIN_CSRF_COOKIE]


async def guess_all(urls: list[str], guesses: list[str]) -> Counter[int]:
    """POST every guess for rev1 at once, spread over the servers; the status codes."""
    forms = {url: login_form(url) for url in urls}
    async with httpx.AsyncClient(timeout=300) as client:

        async def guess(number: int, password: str) -> int:
            url = urls[number % len(urls)]
            token, cookie = forms[url]
            response = await client.post(
                f"{url}/login",
                data={"username": "rev1", "password": password, "csrf_token": token},
                headers={"Cookie": f"{LOGIN_CSRF_COOKIE}={cookie}"},
            )
            return response.status_code

        codes = await asyncio.gather(*(guess(n, p) for n, p in enumerate(guesses)))
    return Counter(codes)


@pytest.mark.slow
def test_simultaneous_guesses_are_capped_across_processes(db_url: str) -> None:
    """60 guesses at once for one user (the right password last), half to a server in
    this process and half to a ``haechi serve`` process: at most LIMIT are checked."""
    guesses = [f"wrong guess {n}" for n in range(59)] + [PASSWORD]
    with open_store(db_url) as store:
        build_setup(store)
        with LiveServer(create_app(store=store)) as here, haechi_serve(db_url) as there:
            codes = asyncio.run(guess_all([here.url, there], guesses))
            checked = store.transact(
                lambda s: s.scalar(select(func.count()).where(LoginAttempt.key == "user:rev1"))
            )
            # the window is used up: now even the right password is not checked
            assert asyncio.run(guess_all([there], [PASSWORD])) == {429: 1}
    assert set(codes) <= {401, 429, 303}
    assert codes[401] + codes[303] == checked == LIMIT
    assert codes[429] == len(guesses) - LIMIT


def test_a_success_does_not_reopen_the_window(site_db: str) -> None:
    with open_store(site_db) as store:
        build_setup(store)
        with LiveServer(create_app(store=store, login_attempts=3)) as server:
            codes = [
                asyncio.run(guess_all([server.url], [password]))
                for password in ["wrong 1", "wrong 2", PASSWORD, "wrong 3"]
            ]
    assert codes == [{401: 1}, {401: 1}, {303: 1}, {429: 1}]


def test_planted_login_tokens_are_refused(site: Site) -> None:
    url = site.url
    form = {"username": "rev0", "password": PASSWORD}

    def post(token: str, cookie: str, **headers: str) -> int:
        response = httpx.post(
            f"{url}/login",
            data={**form, "csrf_token": token},
            headers={"Cookie": f"{LOGIN_CSRF_COOKIE}={cookie}", **headers},
            timeout=120,
        )
        return response.status_code

    # a pair another page on this host planted (cookie and form field agree)
    assert post("planted-by-another-page", "planted-by-another-page") == 403
    token, cookie = login_form(url)
    issued, nonce, mac = token.split(".")
    assert post(f"{issued}.{nonce}.{'0' * len(mac)}", f"{issued}.{nonce}.{'0' * len(mac)}") == 403
    # a real token posted from another site (or another port of this host)
    assert post(token, cookie, **{"Sec-Fetch-Site": "same-site"}) == 403
    assert post(token, cookie, **{"Sec-Fetch-Site": "cross-site"}) == 403
    assert post(token, "") == 403
    assert post(token, cookie, **{"Sec-Fetch-Site": "same-origin"}) == 303

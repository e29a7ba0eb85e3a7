"""Deployment settings and failures (part of the security tests): forwarded headers only
from configured proxies, relative redirects whatever the Host header says, and a store that
cannot be written answering a clear page while reads go on."""

from __future__ import annotations

import http.client
import logging
import re
from pathlib import Path

import httpx
import pytest
from tests.review.conftest import PASSWORD, build_setup
from tests.web.conftest import LiveServer, Site, csrf_of
from tests.web.test_login_attacks import haechi_serve, login_form

from haechi.review.accounts import create_session
from haechi.review.queue import current_item
from haechi.store import open_store
from haechi.web import create_app
from haechi.web.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE

# real subprocesses of the CLI or the server: make test-fast leaves them out
pytestmark = pytest.mark.slow


def wrong_logins_from(url: str, addresses: list[str]) -> list[int]:
    """One wrong login per claimed client address (each for another user name)."""
    token, cookie = login_form(url)
    return [
        httpx.post(
            f"{url}/login",
            data={"username": f"nobody{n}", "password": "wrong", "csrf_token": token},
            headers={"Cookie": f"{LOGIN_CSRF_COOKIE}={cookie}", "X-Forwarded-For": address},
            timeout=120,
        ).status_code
        for n, address in enumerate(addresses)
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("options", "believed"),
    [
        ((), False),  # by default every request is from 127.0.0.1, whatever the header says
        (("--proxy-headers", "--forwarded-allow-ips", "10.9.9.9"), False),  # not our proxy
        (("--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"), True),
    ],
)
def test_forwarded_for_is_believed_only_from_configured_proxies(
    tmp_path: Path, options: tuple[str, ...], believed: bool
) -> None:
    db = str(tmp_path / "web.db")
    with open_store(db) as store:
        build_setup(store)
    with haechi_serve(db, *options) as url:
        codes = wrong_logins_from(url, [f"203.0.113.{n}" for n in range(11)])
    # eleven failures from one address hit its limit; from eleven addresses they do not
    assert codes == [401] * 11 if believed else [401] * 10 + [429]


def raw_get(site: Site, path: str) -> http.client.HTTPResponse:
    """GET ``path`` exactly as written (no client normalises it), claiming another Host."""
    host, port = site.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", path, headers={"Host": "evil.example"})
    return connection.getresponse()


def test_trailing_slash_redirects_stay_on_this_site(site: Site) -> None:
    response = raw_get(site, "/login/?next=1")
    assert response.status == 307 and response.getheader("location") == "/login?next=1"
    for path in ("//evil.example/", "//evil.example/login/", "/\\evil.example/", "/nothing/"):
        response = raw_get(site, path)
        assert response.status == 404 and response.getheader("location") is None, path
    assert httpx.post(f"{site.url}/login/").status_code == 404


def test_a_read_only_store_answers_a_clear_page_and_keeps_serving(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "web.db"
    with open_store(str(path)) as store:
        setup = build_setup(store)
        session, _ = create_session(store, setup.reviewers[0])
        # the same file opened read-only, as on a read-only or full volume
        with (
            open_store(f"sqlite:///file:{path}?mode=ro&uri=true") as read_only,
            LiveServer(create_app(store=read_only)) as server,
        ):
            client = httpx.Client(base_url=server.url, cookies={SESSION_COOKIE: session})
            home = client.get("/")
            assert home.status_code == 200 and "camp" in home.text
            token = csrf_of(home.text)
            with caplog.at_level(logging.ERROR, logger="haechi.web"):
                failed = client.post("/c/camp/next", data={"csrf_token": token})
            assert failed.status_code == 503 and failed.headers["retry-after"] == "60"
            assert "read-only" in failed.text or "읽기 전용" in failed.text
            assert "content-security-policy" in failed.headers
            assert any("store failed" in r.getMessage() for r in caplog.records)
            # reads go on: the campaigns page, the login form
            assert client.get("/").status_code == 200
            assert httpx.get(f"{server.url}/login").status_code == 200
        assert current_item(store, "camp", setup.reviewers[0]) is None  # nothing claimed


def test_serve_logs_each_request_and_no_secrets(tmp_path: Path) -> None:
    db = str(tmp_path / "web.db")
    with open_store(db) as store:
        build_setup(store)
    log = tmp_path / "serve.log"
    with haechi_serve(db, log=log) as url:
        client = httpx.Client(base_url=url, timeout=120)
        token = csrf_of(client.get("/login?next=query-secret").text)
        form = {"username": "rev0", "password": PASSWORD, "csrf_token": token}
        assert client.post("/login", data=form).status_code == 303
        session = client.cookies[SESSION_COOKIE]
        assert client.get("/c/camp/next").status_code == 200
        assert client.get("/nothing%0Aforged 200 1 ms").status_code == 404
    text = log.read_text()
    for line in (r"GET /login 200", r"POST /login 303", r"GET /c/camp/next 200"):
        assert re.search(rf"^\S+ \S+ INFO 127\.0\.0\.1 {line} \d+ ms$", text, re.M), line
    assert "GET /nothing%0Aforged%20200%201%20ms 404" in text  # one line, as sent
    for secret in (PASSWORD, token, session, client.cookies[LOGIN_CSRF_COOKIE], "query-secret"):
        assert secret not in text

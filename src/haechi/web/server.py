"""Serving the app with uvicorn: ``haechi serve`` and the tests share these settings.

Forwarded headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) say who the client is and
whether it used HTTPS; anyone can send them, so they are believed only when
``proxy_headers`` is on and only from ``forwarded_allow_ips`` (the proxy's addresses).
uvicorn's own default trusts them from any loopback client.

Every request is logged on ``haechi.web.access`` (``AccessLog``): one line with the client,
method, path, status and milliseconds. uvicorn's own access log is off: it writes the
query string and no time.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCESS_LOGGER = "haechi.web.access"
MAX_LOGGED_PATH = 200  # characters; a longer path is cut
log = logging.getLogger(ACCESS_LOGGER)


class AccessLog:
    """ASGI middleware logging one line per HTTP request at INFO:
    ``client METHOD /path status N ms``. Only the path is logged (a query string may carry
    secrets), as sent and percent-encoded, so a path cannot forge a log line; bodies,
    headers and cookies never are."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app sends nothing

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            log.info(
                "%s %s %s %d %.0f ms",
                client[0] if client else "-",
                scope["method"],
                logged_path(scope),
                status,
                (time.perf_counter() - started) * 1000,
            )


def logged_path(scope: Scope) -> str:
    """The request's path without its query string: bytes outside printable ASCII as
    ``%XX``, cut at ``MAX_LOGGED_PATH`` characters."""
    raw = scope.get("raw_path") or scope["path"].encode("utf-8")
    path = raw.split(b"?", 1)[0].decode("latin-1")
    safe = "".join(c if 32 < ord(c) < 127 else f"%{ord(c):02X}" for c in path)
    return safe if len(safe) <= MAX_LOGGED_PATH else safe[:MAX_LOGGED_PATH] + "…"


def _log_config() -> dict[str, Any]:
    """uvicorn's logging settings plus a timestamped stderr handler for ``haechi.web``
    (its request lines and its errors)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["haechi"] = {"format": "%(asctime)s %(levelname)s %(message)s"}
    config["handlers"]["haechi"] = {
        "class": "logging.StreamHandler",
        "formatter": "haechi",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["haechi.web"] = {"handlers": ["haechi"], "level": "INFO"}
    return config


def server_config(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    proxy_headers: bool = False,
    forwarded_allow_ips: str = "127.0.0.1",
) -> uvicorn.Config:
    """A uvicorn ``Config`` for ``app``: forwarded headers only from the listed proxies,
    every request logged (``AccessLog``)."""
    import uvicorn

    return uvicorn.Config(
        AccessLog(app),
        host=host,
        port=port,
        log_level="warning",
        log_config=_log_config(),
        access_log=False,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
    )

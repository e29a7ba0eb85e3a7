"""Serving the app with uvicorn: ``haechi serve`` and the tests share these settings.

Forwarded headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) say who the client is and
whether it used HTTPS; anyone can send them, so they are believed only when
``proxy_headers`` is on and only from ``forwarded_allow_ips`` (the proxy's addresses).
uvicorn's own default trusts them from any loopback client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn


def server_config(
    app: object,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    proxy_headers: bool = False,
    forwarded_allow_ips: str = "127.0.0.1",
) -> uvicorn.Config:
    """A uvicorn ``Config`` for ``app``: forwarded headers only from the listed proxies."""
    import uvicorn

    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
    )

"""The web app (``haechi serve``): review queue, adjudication, dashboards, leaderboard,
evaluation runs and model pages.

Needs the ``web`` extra (FastAPI, uvicorn, argon2-cffi). ``create_app(db)`` returns the
ASGI app; serve it with any ASGI server. The templates, charts and ``web.report`` (the
model page as one file) need only Jinja2, so ``create_app`` is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from haechi.web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from haechi.web.app import create_app

        return create_app
    raise AttributeError(name)

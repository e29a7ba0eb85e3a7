"""The web app (``haechi serve``): review queue, adjudication, dashboards, leaderboard.

Needs the ``web`` extra (FastAPI, uvicorn, argon2-cffi). ``create_app(db)`` returns the
ASGI app; serve it with any ASGI server.
"""

from __future__ import annotations

from haechi.web.app import create_app

__all__ = ["create_app"]

"""The results store: runs and their results in SQLite (default) or any SQLAlchemy database.

``open_store()`` connects (explicit URL, else ``$HAECHI_DB``, else a SQLite file in
haechi's data folder; see ``haechi.store.db``) and migrates the schema; the returned
``Store`` records runs and reads them back (``haechi.evaluate.leaderboard`` ranks them).
"""

from __future__ import annotations

from haechi.store import review_schema  # noqa: F401  (registers the review tables)
from haechi.store.db import redacted_url, resolve_url
from haechi.store.records import (
    ResultRecord,
    RunNotFoundError,
    RunRecord,
    RunStatus,
    Store,
    open_store,
)

__all__ = [
    "ResultRecord",
    "RunNotFoundError",
    "RunRecord",
    "RunStatus",
    "Store",
    "open_store",
    "redacted_url",
    "resolve_url",
]

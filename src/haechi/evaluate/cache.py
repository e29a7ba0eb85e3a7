"""The response cache: log-likelihood results keyed by (model fingerprint, request hash).

It lives in its own SQLite file (default ``<haechi cache>/responses.sqlite``, or
``--cache PATH``) so that a killed run, re-run with the same command, recomputes nothing
it had finished. Writes are committed chunk by chunk.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from haechi.models.base import LoglikelihoodRequest, LoglikelihoodResult
from haechi.paths import cache_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS loglikelihood (
    fingerprint TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    logprob REAL NOT NULL,
    is_greedy INTEGER NOT NULL,
    n_tokens INTEGER NOT NULL,
    PRIMARY KEY (fingerprint, request_hash)
) WITHOUT ROWID
"""


def request_hash(request: LoglikelihoodRequest) -> str:
    """sha256 of the request's context and continuation (unambiguously separated)."""
    blob = f"{len(request.context)}:{request.context}{request.continuation}"
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def default_cache_path() -> Path:
    return cache_dir() / "responses.sqlite"


class ResponseCache:
    """A SQLite-backed map from (fingerprint, request) to its log-likelihood result."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)
        self._db.commit()

    def get_many(
        self, fingerprint: str, requests: Sequence[LoglikelihoodRequest]
    ) -> list[LoglikelihoodResult | None]:
        """Cached results in request order (``None`` where missing)."""
        hashes = [request_hash(r) for r in requests]
        found: dict[str, LoglikelihoodResult] = {}
        for start in range(0, len(hashes), 500):  # stay under SQLite's parameter limit
            part = hashes[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                "SELECT request_hash, logprob, is_greedy, n_tokens FROM loglikelihood "
                f"WHERE fingerprint = ? AND request_hash IN ({marks})",
                [fingerprint, *part],
            )
            for h, logprob, greedy, n in rows:
                found[h] = LoglikelihoodResult(logprob, bool(greedy), n)
        return [found.get(h) for h in hashes]

    def put_many(
        self,
        fingerprint: str,
        pairs: Iterable[tuple[LoglikelihoodRequest, LoglikelihoodResult]],
    ) -> None:
        """Store results in one transaction (all of them or none)."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO loglikelihood VALUES (?, ?, ?, ?, ?)",
                [
                    (fingerprint, request_hash(q), r.logprob, int(r.is_greedy), r.n_tokens)
                    for q, r in pairs
                ],
            )

    def count(self, fingerprint: str | None = None) -> int:
        query = "SELECT COUNT(*) FROM loglikelihood"
        args: list[str] = []
        if fingerprint is not None:
            query += " WHERE fingerprint = ?"
            args.append(fingerprint)
        return int(self._db.execute(query, args).fetchone()[0])

    def close(self) -> None:
        self._db.close()

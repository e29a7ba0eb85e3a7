"""The response cache: model responses keyed by (model fingerprint, request hash).

It lives in its own SQLite file (default ``<haechi cache>/responses.sqlite``, or
``--cache PATH``) so that a killed run, re-run with the same command, recomputes nothing
it had finished. Values are JSON; writes are committed chunk by chunk.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from haechi.models.base import (
    Generation,
    GenerationRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
)
from haechi.paths import cache_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    fingerprint TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (fingerprint, request_hash)
) WITHOUT ROWID
"""


def _hash(kind: str, payload: Any) -> str:
    blob = json.dumps([kind, payload], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def loglikelihood_key(request: LoglikelihoodRequest) -> str:
    return _hash("loglikelihood", [request.context, request.continuation])


def generation_key(request: GenerationRequest) -> str:
    """Covers the prompt (or messages) and every setting that changes the output."""
    return _hash("generation", asdict(request))


def encode_loglikelihood(result: LoglikelihoodResult) -> str:
    return json.dumps([result.logprob, result.is_greedy, result.n_tokens])


def decode_loglikelihood(value: str) -> LoglikelihoodResult:
    logprob, greedy, n = json.loads(value)
    return LoglikelihoodResult(float(logprob), bool(greedy), int(n))


def encode_generation(result: Generation) -> str:
    # token log-probabilities are not cached: evaluation does not read them
    return json.dumps(
        [
            list(result.texts),
            list(result.finish_reasons),
            result.prompt_tokens,
            result.completion_tokens,
        ],
        ensure_ascii=False,
    )


def decode_generation(value: str) -> Generation:
    texts, reasons, *tokens = json.loads(value)  # entries cached before token counts: none
    prompt_tokens, completion_tokens = tokens or (0, 0)
    return Generation(
        tuple(texts), tuple(reasons), None, int(prompt_tokens), int(completion_tokens)
    )


def default_cache_path() -> Path:
    return cache_dir() / "responses.sqlite"


class ResponseCache:
    """A SQLite map from (fingerprint, request hash) to an encoded response."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)
        self._db.commit()

    def get_many(self, fingerprint: str, keys: Sequence[str]) -> list[str | None]:
        """Cached values in key order (``None`` where missing)."""
        found: dict[str, str] = {}
        for start in range(0, len(keys), 500):  # stay under SQLite's parameter limit
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                "SELECT request_hash, value FROM responses "
                f"WHERE fingerprint = ? AND request_hash IN ({marks})",
                [fingerprint, *part],
            )
            found.update(rows)
        return [found.get(k) for k in keys]

    def put_many(self, fingerprint: str, items: Iterable[tuple[str, str]]) -> None:
        """Store (key, value) pairs in one transaction: all of them or none."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?)",
                [(fingerprint, key, value) for key, value in items],
            )

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        self._db.close()

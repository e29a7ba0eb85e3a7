"""Logging in: a failure limit that holds under any concurrency, and login-form tokens
that only the server can make.

Every password check is counted *before* the slow argon2 hash runs: one write
transaction counts the window's rows for the user name and for the client address and,
below the limit, adds a row for each (SQLite serialises writers with ``BEGIN
IMMEDIATE``; PostgreSQL takes an advisory lock per key). So however many requests race,
across threads, workers and processes, at most ``attempts`` passwords are checked per user
name in a window. A success keeps its user-name row (it does not reopen the window) and
gives its address row back, so reviewers behind one address can all log in while failures
from that address stay capped.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from haechi.errors import HaechiError
from haechi.review.accounts import Account, authenticate
from haechi.store import Store
from haechi.store.review_schema import LoginAttempt, WebSecret

LOGIN_FORM_LIFETIME_S = 3600
# pg_advisory_xact_lock(int, int): this first number keeps login locks apart from others.
_PG_LOCK_SPACE = 0x6863


class TooManyAttempts(HaechiError):
    """The user name or the address used up its password checks for this window."""


@dataclass(frozen=True)
class LoginLimit:
    """At most ``attempts`` password checks per user name, and failed checks per client
    address, in any ``window``."""

    attempts: int = 10
    window: timedelta = timedelta(minutes=5)


def attempt_login(
    store: Store, username: str, password: str, address: str, limit: LoginLimit
) -> Account | None:
    """The account when the password is right, ``None`` when it is wrong; raises
    ``TooManyAttempts`` without checking it once the limit is reached."""
    address_row = _take(store, user_key(username), f"ip:{address}", limit)
    account = authenticate(store, username, password)
    if account is not None:
        store.transact(
            lambda s: s.execute(delete(LoginAttempt).where(LoginAttempt.id == address_row)),
            write=True,
        )
    return account


def user_key(username: str) -> str:
    """The key a user name's password checks are counted under."""
    return f"user:{username}"


def _take(store: Store, user_key: str, address_key: str, limit: LoginLimit) -> int:
    """Count one check against both keys (atomically); the address row's id."""

    def work(session: Session) -> int | None:
        now = datetime.now(UTC)
        keys = sorted({user_key, address_key})
        if session.get_bind().dialect.name == "postgresql":
            for key in keys:  # in a fixed order: two requests never wait on each other
                session.execute(
                    text("SELECT pg_advisory_xact_lock(:space, :key)"),
                    {"space": _PG_LOCK_SPACE, "key": _lock_key(key)},
                )
        expired = (
            select(LoginAttempt.id)
            .where(LoginAttempt.attempted_at <= now - limit.window)
            .with_for_update(skip_locked=True)
        )
        session.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(expired)))
        counts = session.execute(
            select(LoginAttempt.key, func.count())
            .where(LoginAttempt.key.in_(keys))
            .group_by(LoginAttempt.key)
        )
        if any(count >= limit.attempts for _, count in counts):
            return None
        rows = {key: LoginAttempt(key=key, attempted_at=now) for key in keys}
        session.add_all(rows.values())
        session.flush()
        return rows[address_key].id

    taken = store.transact(work, write=True)
    if taken is None:
        raise TooManyAttempts("too many login attempts: wait a few minutes")
    return taken


def _lock_key(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big", signed=True)


def login_form_token(store: Store) -> str:
    """A fresh token for the login form, signed with the store's secret (so a token the
    server did not make, such as a cookie another page planted, is refused)."""
    body = f"{int(time.time())}.{secrets.token_urlsafe(24)}"
    return f"{body}.{_sign(store, body)}"


def login_form_token_valid(store: Store, token: str | None) -> bool:
    """True for a token this store's server made in the last hour."""
    body, _, mac = (token or "").rpartition(".")
    issued = body.partition(".")[0]
    # a minute of slack for the clocks of several servers
    if not issued.isdigit() or not -60 <= time.time() - int(issued) <= LOGIN_FORM_LIFETIME_S:
        return False
    return hmac.compare_digest(mac.encode(), _sign(store, body).encode())


def _sign(store: Store, body: str) -> str:
    secret = store.transact(
        lambda s: s.scalar(select(WebSecret.value).where(WebSecret.name == "login_form"))
    )
    if secret is None:
        raise HaechiError("the store has no login_form secret (migration 0004 makes it)")
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()

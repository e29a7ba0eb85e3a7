"""Users, their argon2 password hashes, and logged-in sessions.

Passwords are hashed with argon2id (argon2-cffi's defaults). A session is a random token
in an HttpOnly cookie; the store keeps only its SHA-256, with a per-session CSRF token.

Reviewers whose labels were imported (SQuARe's crowd workers, ``labels`` of an import
file) are users of role ``annotator`` without a password: they own labels but cannot log
in, and the users list leaves them out.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, cast

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haechi.errors import HaechiError, InputError, MissingExtraError
from haechi.store import Store
from haechi.store.review_schema import (
    LoginAttempt,
    ReviewAssignment,
    ReviewLabel,
    ReviewMember,
    User,
    WebSession,
)

if TYPE_CHECKING:
    from argon2 import PasswordHasher

Role = Literal["admin", "reviewer"]
ROLES: tuple[Role, ...] = ("admin", "reviewer")
AccountRole = Literal["admin", "reviewer", "annotator"]
ANNOTATOR: AccountRole = "annotator"  # imported annotators: no password, no login
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_CHARS = 8
USERNAME_PATTERN = r"[\w.\-@]{1,64}"  # the whole name (re.fullmatch)


class PermissionDenied(HaechiError):
    """The user may not see or change this; the web app answers 403 or 404."""


class UnknownCampaign(PermissionDenied):
    """No campaign of that name that this user may see (one message for both, so names
    of other campaigns do not leak); on the command line a mistyped name is bad input."""

    exit_code = 2


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    role: AccountRole
    active: bool = True
    can_login: bool = True

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# Whoever opens the database directly (the command line, a Python script) already has
# every right; library calls made on their behalf act as this admin.
DATABASE_OWNER = Account(id=0, username="(database owner)", role="admin")


@dataclass(frozen=True)
class SessionInfo:
    account: Account
    csrf_token: str


def _hasher() -> PasswordHasher:
    try:
        from argon2 import PasswordHasher
    except ImportError as exc:
        raise MissingExtraError("argon2-cffi", "web") from exc
    return PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted; different every call)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InputError(
            f"a password needs at least {MIN_PASSWORD_CHARS} characters", field="password"
        )
    return str(_hasher().hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def _account(user: User) -> Account:
    role = cast(AccountRole, user.role if user.role in ("admin", ANNOTATOR) else "reviewer")
    return Account(user.id, user.username, role, user.active, user.password_hash is not None)


def valid_username(username: str) -> bool:
    """1–64 letters, digits or . _ - @: nothing that needs quoting in a URL path but
    letters outside ASCII."""
    return re.fullmatch(USERNAME_PATTERN, username) is not None


def check_username(username: str) -> None:
    """``InputError`` unless ``valid_username``."""
    if not valid_username(username):
        raise InputError(
            "a user name is 1–64 letters, digits or . _ - @", field="username", hint=username
        )


def add_user(store: Store, username: str, role: Role, password: str | None) -> Account:
    """Create a user. ``password=None`` makes an account that cannot log in (imported
    annotators). Raises ``InputError`` for a bad name or role, or a taken name."""
    check_username(username)
    if role not in ROLES:
        raise InputError(f"role must be one of {list(ROLES)}", field="role")
    hashed = hash_password(password) if password is not None else None
    user = User(
        username=username,
        password_hash=hashed,
        role=role,
        active=True,
        created_at=datetime.now(UTC),
    )
    try:
        store.transact(lambda s: s.add(user), write=True)
    except IntegrityError:
        raise InputError(f"user {username!r} already exists", field="username") from None
    return _account(user)


def ensure_annotator(session: Session, username: str) -> int:
    """The id of ``username``, creating an annotator (no password) for imported labels."""
    check_username(username)
    found = session.scalar(select(User.id).where(User.username == username))
    if found is not None:
        return int(found)
    user = User(
        username=username,
        password_hash=None,
        role=ANNOTATOR,
        active=True,
        created_at=datetime.now(UTC),
    )
    session.add(user)
    session.flush()
    return user.id


def list_users(store: Store, *, annotators: bool = False) -> list[Account]:
    """The accounts that can log in (and, with ``annotators``, every user), by id."""
    query = select(User).order_by(User.id)
    if not annotators:
        query = query.where(User.password_hash.is_not(None))
    return store.transact(lambda s: [_account(u) for u in s.scalars(query)])


def remove_user(store: Store, username: str) -> int:
    """End ``username``'s login account: sessions, memberships and open assignments go.
    A user without labels is deleted; one with labels stays as an annotator (no
    password), so no label is lost. Returns the number of labels kept. The last admin
    who can log in cannot be removed."""

    def work(session: Session) -> int:
        user = _login_user(session, username)
        if user.role == "admin" and user.active:
            admins = session.scalar(
                select(func.count())
                .select_from(User)
                .where(User.role == "admin", User.active, User.password_hash.is_not(None))
            )
            if admins == 1:
                raise InputError(f"{username!r} is the last admin", field="username")
        labels = int(
            session.scalar(
                select(func.count()).select_from(ReviewLabel).where(ReviewLabel.user_id == user.id)
            )
            or 0
        )
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
        session.execute(delete(ReviewMember).where(ReviewMember.user_id == user.id))
        session.execute(
            delete(ReviewAssignment).where(
                ReviewAssignment.user_id == user.id, ReviewAssignment.status == "open"
            )
        )
        if labels:
            user.password_hash, user.role = None, ANNOTATOR
        else:
            session.delete(user)
        return labels

    return store.transact(work, write=True)


def reset_password(store: Store, username: str, password: str) -> Account:
    """Give ``username`` a new password; their logged-in sessions end and the failed
    logins counted against the name are forgotten (an admin's reset lifts a lock-out)."""
    from haechi.review.logins import user_key  # logins imports this module

    hashed = hash_password(password)

    def work(session: Session) -> Account:
        user = _login_user(session, username)
        user.password_hash = hashed
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
        session.execute(delete(LoginAttempt).where(LoginAttempt.key == user_key(username)))
        return _account(user)

    return store.transact(work, write=True)


def _login_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or user.password_hash is None:
        what = "an imported annotator, not a login account" if user else "no such user"
        raise InputError(f"{username!r}: {what}", field="username")
    return user


def update_user(
    store: Store, user_id: int, *, role: Role | None = None, active: bool | None = None
) -> None:
    """Change a user's role or switch the account off (its sessions end)."""
    if role is not None and role not in ROLES:
        raise InputError(f"role must be one of {list(ROLES)}", field="role")

    def work(session: Session) -> None:
        user = session.get(User, user_id)
        if user is None:
            raise InputError(f"no user with id {user_id}", field="user")
        if role is not None:
            user.role = role
        if active is not None:
            user.active = active
            if not active:
                session.execute(delete(WebSession).where(WebSession.user_id == user_id))

    store.transact(work, write=True)


def authenticate(store: Store, username: str, password: str) -> Account | None:
    """The active account whose password matches, else ``None`` (same answer for an
    unknown name, so the login form does not reveal which names exist)."""
    user = store.transact(lambda s: s.scalar(select(User).where(User.username == username)))
    if user is None or user.password_hash is None or not user.active:
        # Hash anyway, so an unknown name takes as long as a wrong password.
        verify_password(_dummy_hash(), password)
        return None
    return _account(user) if verify_password(user.password_hash, password) else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_session(store: Store, account: Account) -> tuple[str, str]:
    """Start a session: returns (cookie token, CSRF token). Expired sessions are purged."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = datetime.now(UTC)

    def work(session: Session) -> None:
        session.execute(delete(WebSession).where(WebSession.expires_at < now))
        session.add(
            WebSession(
                token_hash=_token_hash(token),
                user_id=account.id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )

    store.transact(work, write=True)
    return token, csrf


def session_for(store: Store, token: str) -> SessionInfo | None:
    """The live session of a cookie token (``None`` when unknown, expired or the user is
    switched off)."""

    def work(session: Session) -> SessionInfo | None:
        row = session.get(WebSession, _token_hash(token))
        if row is None or row.expires_at < datetime.now(UTC):
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            return None
        return SessionInfo(_account(user), row.csrf_token)

    return store.transact(work)


def end_session(store: Store, token: str) -> None:
    store.transact(
        lambda s: s.execute(delete(WebSession).where(WebSession.token_hash == _token_hash(token))),
        write=True,
    )


@functools.cache
def _dummy_hash() -> str:
    return str(_hasher().hash(secrets.token_hex(16)))

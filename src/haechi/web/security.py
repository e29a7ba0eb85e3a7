"""What keeps adversarial model text and other users out: security headers, session
cookies and CSRF checks (the login failure limit is ``haechi.review.logins``).

Model outputs are attacker-controlled, so pages allow no inline script at all (CSP
``script-src 'self'``) and templates escape every value (no ``|safe`` on model text).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request, Response
from starlette.middleware.base import BaseHTTPMiddleware

SESSION_COOKIE = "haechi_session"
LOGIN_CSRF_COOKIE = "haechi_login_csrf"
LANGUAGE_COOKIE = "haechi_lang"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}


class SecurityHeaders(BaseHTTPMiddleware):
    """Adds ``SECURITY_HEADERS`` to every response (static files keep their caching)."""

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            if name == "Cache-Control" and request.url.path.startswith("/static/"):
                continue
            response.headers.setdefault(name, value)
        return response


@dataclass(frozen=True)
class CookiePolicy:
    """``secure`` marks cookies HTTPS-only: on behind TLS, off for plain loopback HTTP."""

    secure: bool = False

    def set_session(self, response: Response, token: str, max_age: int) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=max_age,
            httponly=True,
            samesite="strict",
            secure=self.secure,
            path="/",
        )

    def clear_session(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")

    def set_login_csrf(self, response: Response, token: str) -> None:
        """The login form's CSRF token is double-submitted (a cookie and a form field) and
        signed by the server, so a pair another page planted is refused."""
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            token,
            max_age=3600,
            httponly=True,
            samesite="strict",
            secure=self.secure,
            path="/login",
        )


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison that is false when either side is missing."""
    if not expected or not given:
        return False
    return secrets.compare_digest(expected.encode(), given.encode())

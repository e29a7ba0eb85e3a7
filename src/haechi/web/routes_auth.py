"""Logging in and out, and choosing the interface language."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from haechi.review.accounts import SESSION_LIFETIME, authenticate, create_session, end_session
from haechi.web.app import CsrfFailed, checked_form, language_of, redirect, render, state, viewer
from haechi.web.i18n import LANGUAGES, translate
from haechi.web.security import LANGUAGE_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE, tokens_match

router = APIRouter()


def _login_page(request: Request, status_code: int = 200, error: str | None = None) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    page = render(request, "login.html", None, status_code, error=error, csrf=token)
    state(request).cookies.set_login_csrf(page, token)
    return page


@router.get("/login")
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE), str(form.get("csrf_token", ""))):
        raise CsrfFailed
    web = state(request)
    username = str(form.get("username", ""))[:64]
    password = str(form.get("password", ""))[:1024]
    client = f"ip:{request.client.host if request.client else '?'}"
    keys = (client, f"user:{username}")
    language = language_of(request)
    if web.limiter.blocked(*keys):
        return _login_page(request, 429, translate("too_many", language))
    account = await run_in_threadpool(authenticate, web.store, username, password)
    if account is None:
        web.limiter.failed(*keys)
        return _login_page(request, 401, translate("login_failed", language))
    web.limiter.succeeded(*keys)
    token, _ = await run_in_threadpool(create_session, web.store, account)
    response = redirect("/")
    web.cookies.set_session(response, token, int(SESSION_LIFETIME.total_seconds()))
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await checked_form(request, viewer(request))
    token = request.cookies.get(SESSION_COOKIE, "")
    await run_in_threadpool(end_session, state(request).store, token)
    response = redirect("/login")
    state(request).cookies.clear_session(response)
    return response


@router.get("/lang/{language}")
def choose_language(language: str, request: Request) -> Response:
    """Remember the interface language (a preference cookie, nothing else changes)."""
    response = redirect("/")
    if language in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="strict")
    return response

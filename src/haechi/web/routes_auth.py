"""Logging in and out, and choosing the interface language."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from haechi.review.accounts import SESSION_LIFETIME, create_session, end_session
from haechi.review.logins import (
    TooManyAttempts,
    attempt_login,
    login_form_token,
    login_form_token_valid,
)
from haechi.web.app import CsrfFailed, checked_form, language_of, redirect, render, state, viewer
from haechi.web.i18n import LANGUAGES, translate
from haechi.web.security import LANGUAGE_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE, tokens_match

router = APIRouter()


def _login_page(request: Request, status_code: int = 200, error: str | None = None) -> Response:
    store = state(request).store
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not login_form_token_valid(store, token):
        token = login_form_token(store)
    page = render(request, "login.html", None, status_code, error=error, csrf=token)
    state(request).cookies.set_login_csrf(page, token)
    return page


@router.get("/login")
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    return await run_in_threadpool(_login, request, form)


def _login(request: Request, form: FormData) -> Response:
    web = state(request)
    token = request.cookies.get(LOGIN_CSRF_COOKIE)
    # A browser says where a form came from: another site (or another port of this
    # host, which shares its cookies) may not log anyone in here.
    cross_site = request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none")
    if (
        cross_site
        or not tokens_match(token, str(form.get("csrf_token", "")))
        or not login_form_token_valid(web.store, token)
    ):
        raise CsrfFailed
    username = str(form.get("username", ""))[:64]
    password = str(form.get("password", ""))[:1024]
    address = request.client.host if request.client else "?"
    language = language_of(request)
    try:
        account = attempt_login(web.store, username, password, address, web.login_limit)
    except TooManyAttempts:
        return _login_page(request, 429, translate("too_many", language))
    if account is None:
        return _login_page(request, 401, translate("login_failed", language))
    session_token, _ = create_session(web.store, account)
    response = redirect("/")
    web.cookies.set_session(response, session_token, int(SESSION_LIFETIME.total_seconds()))
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

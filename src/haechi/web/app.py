"""The web app: ``create_app`` wires the store, security, templates and routes.

Pages are server-rendered (Jinja2, autoescaped); the only script is a static file for
keyboard shortcuts. Every route resolves the logged-in user first and the library
functions it calls check what that user may see.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import OperationalError
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from haechi import __version__
from haechi.errors import InputError
from haechi.review.accounts import Account, PermissionDenied, session_for
from haechi.review.logins import LoginLimit
from haechi.store import RunNotFoundError, Store, open_store
from haechi.web import display
from haechi.web.i18n import LANGUAGES, Language, translate
from haechi.web.security import (
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    CookiePolicy,
    SecurityHeaders,
    tokens_match,
)

log = logging.getLogger("haechi.web")


class LoginRequired(Exception):
    """No valid session: the browser is sent to the login page."""


class CsrfFailed(Exception):
    """A state-changing request without the right CSRF token."""


@dataclass(frozen=True)
class Viewer:
    """Who is asking: their account, their session's CSRF token and their language."""

    account: Account
    csrf: str
    language: Language


@dataclass
class WebState:
    store: Store
    cookies: CookiePolicy
    login_limit: LoginLimit
    templates: Jinja2Templates


def _package_dir(name: str) -> Path:
    return Path(str(resources.files("haechi.web").joinpath(name)))


def create_app(
    db: str | None = None,
    *,
    store: Store | None = None,
    secure_cookies: bool = False,
    login_attempts: int = 10,
) -> FastAPI:
    """The review app over the store at ``db`` (or an open ``store``, which the caller
    closes). ``secure_cookies`` for deployments behind HTTPS; ``login_attempts`` password
    checks per user name (and failures per address) in five minutes."""
    app = FastAPI(
        title="haechi",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # Starlette's trailing-slash redirect is absolute, built from the Host header;
        # the 404 handler redirects relatively instead.
        redirect_slashes=False,
    )
    templates = Jinja2Templates(directory=str(_package_dir("templates")))
    templates.env.globals["translate"] = translate
    display.register(templates.env)
    app.state.web = WebState(
        store=store or open_store(db),
        cookies=CookiePolicy(secure=secure_cookies),
        login_limit=LoginLimit(attempts=login_attempts),
        templates=templates,
    )
    if store is None:
        app.router.on_shutdown.append(app.state.web.store.close)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(_package_dir("static"))), name="static")
    _add_error_pages(app)

    from haechi.web import (
        routes_admin,
        routes_auth,
        routes_models,
        routes_redteam,
        routes_review,
        routes_runs,
    )

    app.include_router(routes_auth.router)
    app.include_router(routes_review.router)
    app.include_router(routes_admin.router)
    app.include_router(routes_runs.router)
    app.include_router(routes_models.router)
    app.include_router(routes_redteam.router)
    return app


def state(request: Request) -> WebState:
    web: WebState = request.app.state.web
    return web


def language_of(request: Request) -> Language:
    chosen = request.cookies.get(LANGUAGE_COOKIE, "ko")
    return chosen if chosen in LANGUAGES else "ko"


def viewer(request: Request) -> Viewer:
    """The logged-in user (a FastAPI dependency); ``LoginRequired`` otherwise."""
    token = request.cookies.get(SESSION_COOKIE)
    info = session_for(state(request).store, token) if token else None
    if info is None:
        raise LoginRequired
    return Viewer(info.account, info.csrf_token, language_of(request))


def admin(request: Request) -> Viewer:
    """The logged-in admin; a reviewer gets the same 404 as a missing page."""
    who = viewer(request)
    if not who.account.is_admin:
        raise PermissionDenied("admins only")
    return who


ViewerDep = Annotated[Viewer, Depends(viewer)]
AdminDep = Annotated[Viewer, Depends(admin)]


async def checked_form(request: Request, who: Viewer) -> FormData:
    """The posted form, once its CSRF token is the session's (``CsrfFailed`` otherwise)."""
    form = await request.form()
    token = form.get("csrf_token")
    if not tokens_match(who.csrf, token if isinstance(token, str) else None):
        raise CsrfFailed
    return form


def render(
    request: Request,
    template: str,
    who: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    language = who.language if who else language_of(request)
    values = {
        "request": request,
        "viewer": who,
        "lang": language,
        "t": lambda key: translate(key, language),
        "version": __version__,
        **context,
    }
    return state(request).templates.TemplateResponse(
        request, template, values, status_code=status_code
    )


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _add_error_pages(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if request.method != "GET":
            return render(
                request,
                "error.html",
                None,
                401,
                message=translate("forbidden", language_of(request)),
            )
        return redirect("/login")

    @app.exception_handler(PermissionDenied)
    async def _denied(request: Request, exc: PermissionDenied) -> Response:
        return render(
            request, "error.html", None, 404, message=translate("not_found", language_of(request))
        )

    @app.exception_handler(RunNotFoundError)
    async def _no_run(request: Request, exc: RunNotFoundError) -> Response:
        return render(
            request, "error.html", None, 404, message=translate("not_found", language_of(request))
        )

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed) -> Response:
        return render(
            request, "error.html", None, 403, message=translate("forbidden", language_of(request))
        )

    @app.exception_handler(InputError)
    async def _bad(request: Request, exc: InputError) -> Response:
        message = f"{translate('bad_request', language_of(request))}: {exc}"
        return render(request, "error.html", None, 400, message=message)

    @app.exception_handler(OperationalError)
    async def _store_failed(request: Request, exc: OperationalError) -> Response:
        # A full disk, a read-only file, a lost database server: say so, and keep serving.
        log.error("the store failed on %s %s: %s", request.method, request.url.path, exc.orig)
        page = render(
            request,
            "error.html",
            None,
            503,
            message=translate("store_failed", language_of(request)),
        )
        page.headers["Retry-After"] = "60"
        return page

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and (target := _without_slash(request)):
            return RedirectResponse(target, status_code=307)
        return render(request, "error.html", None, exc.status_code, message=str(exc.detail))


def _without_slash(request: Request) -> str | None:
    """``/login/`` → ``/login`` when that is a page: a relative URL, never another host."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.decode("latin-1")
    if request.method not in ("GET", "HEAD") or len(path) < 2 or not path.endswith("/"):
        return None
    target = path[:-1]
    if target.startswith(("//", "/\\")):  # a browser reads these as another host
        return None
    scope = {**request.scope, "path": request.url.path[:-1]}
    if not any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
        return None
    query = request.url.query
    return f"{target}?{query}" if query else target

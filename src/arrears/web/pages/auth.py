"""Log in, log out, the language switch and the home page (which sends each role on)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from arrears.domain.errors import AuthenticationError
from arrears.domain.people import Role
from arrears.services.audit import record
from arrears.services.auth import SESSION_LIFETIME, end_session, log_in, set_user_locale
from arrears.web.context import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    client_of,
    render,
    require,
    session_of,
    web,
)
from arrears.web.i18n import LOCALES

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

HOME = {
    Role.COLLECTOR: "/queue",
    Role.FIELD_AGENT: "/queue",
    Role.MANAGER: "/portfolio",
    Role.COMPLIANCE: "/audit",
    Role.ADMIN: "/admin/users",
}


def _safe_next(target: str | None) -> str | None:
    # Only paths on this site: no scheme, no host, no protocol-relative "//".
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@router.get("/")
def home(request: Request) -> Response:
    session = session_of(request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME[session.user.role], status_code=303)


def _login_page(request: Request, error: str | None, status: int, next_: str | None) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", status, login_csrf=token, error=error, next=_safe_next(next_) or ""
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        secure=web(request).cookie_secure,
        samesite="strict",
        path="/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, None, 200, next)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    ctx = web(request)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        return _login_page(request, "form_expired", 400, next)
    try:
        token, session = log_in(ctx.engine, username, password, client_of(request), ctx.clock.now())
    except AuthenticationError as exc:
        code = "locked" if "too many" in str(exc) else "bad_credentials"
        return _login_page(request, code, 429 if code == "locked" else 401, next)
    with ctx.engine.begin() as conn:
        record(
            conn,
            session.user.actor(),
            "log_in",
            "user",
            session.user.username,
            ctx.clock.now(),
            client=client_of(request),
        )
    target = _safe_next(next) or HOME[session.user.role]
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        secure=ctx.cookie_secure,
        samesite="lax",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = require(request)
    check_csrf(session, await request.form())
    ctx = web(request)
    with ctx.engine.begin() as conn:
        end_session(conn, session.token_hash)
        record(
            conn, session.user.actor(), "log_out", "user", session.user.username, ctx.clock.now()
        )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/language")
async def language(request: Request) -> Response:
    """Switch language: stored on the user when signed in, in a cookie otherwise."""
    form = await request.form()
    locale = str(form.get("locale", ""))
    if locale not in LOCALES:
        locale = web(request).default_locale
    session = session_of(request)
    if session is not None:
        check_csrf(session, form)
        with web(request).engine.begin() as conn:
            set_user_locale(conn, session.user.user_id, locale)
    back = _safe_next(str(form.get("back", ""))) or "/"
    response = RedirectResponse(back, status_code=303)
    response.set_cookie(
        LANG_COOKIE, locale, max_age=365 * 86400, secure=web(request).cookie_secure, samesite="lax"
    )
    return response

"""What every page handler needs: the store, the clock, the signed-in user, the language,
CSRF checks and rendering."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection, Engine

from arrears.domain.errors import ArrearsError, Forbidden
from arrears.domain.people import Permission, Role, may
from arrears.domain.products import ProductSettings
from arrears.services.auth import Session, resolve_session
from arrears.web.i18n import LOCALES, Lang, lang_for
from arrears.web.templating import TemplateSet

__all__ = [
    "LANG_COOKIE",
    "SESSION_COOKIE",
    "Clock",
    "CsrfError",
    "LoginRequired",
    "WebContext",
    "check_csrf",
    "client_of",
    "label_module",
    "lang_of",
    "render",
    "require",
    "session_of",
    "web",
]

SESSION_COOKIE = "arrears_session"
LANG_COOKIE = "arrears_lang"
LOGIN_CSRF_COOKIE = "arrears_login_csrf"
TEMPLATES = Path(__file__).parent / "templates"


class Clock(Protocol):
    def now(self) -> datetime: ...

    def today(self) -> Any: ...


class LoginRequired(ArrearsError):
    """No valid session: pages redirect to the log-in page."""


class CsrfError(ArrearsError):
    """A form came without this session's CSRF token."""


@dataclass
class WebContext:
    engine: Engine
    clock: Clock
    default_locale: str
    lender_timezone: str
    cookie_secure: bool
    products: Mapping[str, ProductSettings] = field(default_factory=dict)
    # Requests served at once per process (pages and API calls run in worker threads; more
    # threads than this only queue for the GIL and the database pool).
    threads: int = 8
    compliance_pack: str = "CN"  # the rule pack every contact passes (CN or US)
    sms_secret: str | None = None  # the SMS gateway's HMAC secret (its delivery receipts)
    visit_plan_seconds: float = 5.0  # the door-visit planner's time limit (settings)
    visit_checkin_radius_m: int = 200  # door visits: farther needs a reason
    evidence_dir: Path | None = None  # door visits' photos and audio (none: uploads refused)
    lender_name: str = "贷款机构"  # what documents say about the lender (settings)
    object_how: str = "借款合同所列的客服热线"  # how a borrower objects or complains
    # The page templates, compiled once per language with constant translations folded in.
    templates: TemplateSet = field(default_factory=lambda: TemplateSet(TEMPLATES))
    # Label templates (``_labels.html`` …) are dictionaries of catalogue strings; ``{% import
    # … with context %}`` runs one again on every render (~250 gettext calls on the account
    # view). ``label_module`` makes each once per language: (template, locale) → module.
    label_modules: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)


def web(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def session_of(request: Request, conn: Connection | None = None) -> Session | None:
    """The signed-in session, cached on the request.

    With ``conn`` the lookup runs on that connection (the page's own transaction: one
    checkout and one BEGIN/COMMIT per request instead of two); without, in a short
    transaction of its own.
    """
    if hasattr(request.state, "session"):
        cached: Session | None = request.state.session
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    found = None
    if token:
        ctx = web(request)
        if conn is not None:
            found = resolve_session(conn, token, ctx.clock.now())
        else:
            with ctx.engine.begin() as own:
                found = resolve_session(own, token, ctx.clock.now())
    request.state.session = found
    return found


def require(
    request: Request, permission: Permission | None = None, conn: Connection | None = None
) -> Session:
    """The session, or LoginRequired; Forbidden when the role lacks ``permission``.

    ``conn``: look the session up in the caller's transaction (see :func:`session_of`)."""
    session = session_of(request, conn)
    if session is None:
        raise LoginRequired("log in first")
    if permission is not None and not may(session.user.role, permission):
        raise Forbidden("your role may not open this page")
    return session


def lang_of(request: Request) -> Lang:
    ctx = web(request)
    session = session_of(request)
    chosen = session.user.locale if session and session.user.locale else None
    chosen = chosen or request.cookies.get(LANG_COOKIE)
    return lang_for(chosen, ctx.default_locale, ctx.lender_timezone)


def label_module(request: Request, name: str) -> Any:
    """The module of label template ``name`` (it uses only ``_``) in the request's language."""
    ctx = web(request)
    lang = lang_of(request)
    key = (name, lang.locale)
    found = ctx.label_modules.get(key)
    if found is None:
        found = (
            ctx.templates.for_locale(lang.locale)
            .get_template(name)
            .make_module({"_": lang.gettext, "gettext": lang.gettext, "ngettext": lang.ngettext})
        )
        ctx.label_modules[key] = found
    return found


def check_csrf(session: Session, form: Mapping[str, Any]) -> None:
    token = form.get("csrf_token")
    if not isinstance(token, str) or not secrets.compare_digest(token, session.csrf_token):
        raise CsrfError("the form has expired or did not come from this site; reload the page")


_NOBODY = {p.value: False for p in Permission}


@cache
def _role_table(role: Role) -> dict[str, bool]:
    return {p.value: may(role, p) for p in Permission}


def _can(role: Role | None) -> Callable[[str], bool]:
    """Templates' ``can("permission")``: a lookup in the role's table (a name that is no
    permission raises ``KeyError``, as ``Permission(name)`` raised ``ValueError``)."""
    return (_NOBODY if role is None else _role_table(role)).__getitem__


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    ctx = web(request)
    lang = lang_of(request)
    session = session_of(request)
    role = session.user.role if session else None
    html = (
        ctx.templates.for_locale(lang.locale)
        .get_template(template)
        .render(
            request=request,
            _=lang.gettext,
            gettext=lang.gettext,
            ngettext=lang.ngettext,
            lang=lang,
            locales=LOCALES,
            user=session.user if session else None,
            csrf_token=session.csrf_token if session else "",
            can=_can(role),
            here=request.url.path,
            quote=quote,
            **values,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers={"Content-Language": lang.tag})

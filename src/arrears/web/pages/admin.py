"""Administration pages: users (create, edit, reset password), teams, API tokens.

Every change goes through ``arrears.services.admin``, which writes the audit row. A form with
bad input is shown again with its values and the problems (422, or 409 for a name that is
taken); nothing is changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from arrears.domain.errors import Conflict, Issue, ValidationError
from arrears.domain.people import ApiScope, Permission, Role
from arrears.services import admin, auth
from arrears.services.auth import Session
from arrears.web.context import check_csrf, client_of, render, require, web

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
T = TypeVar("T")


class FormError(Exception):
    """Bad input in an admin form: the page is shown again with ``issues``."""

    def __init__(self, issues: list[Issue], status: int) -> None:
        super().__init__("; ".join(str(i) for i in issues))
        self.issues = issues
        self.status = status


def _changing(work: Callable[[], T], conflict_field: str) -> T:
    """Run ``work``; the services' errors become a FormError (422, or 409 for a taken name)."""
    try:
        return work()
    except ValidationError as exc:
        raise FormError(exc.issues, 422) from exc
    except Conflict as exc:
        raise FormError([Issue("form", None, conflict_field, "exists already")], 409) from exc


async def _form(request: Request, permission: Permission) -> tuple[Session, FormData]:
    session = require(request, permission)
    form = await request.form()
    check_csrf(session, form)
    return session, form


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _role(form: Mapping[str, Any]) -> Role:
    raw = _text(form, "role")
    try:
        return Role(raw)
    except ValueError:
        reason = "choose one" if not raw else "unknown value"
        raise FormError([Issue("form", None, "role", reason)], 422) from None


def _team(form: Mapping[str, Any]) -> int | None:
    raw = _text(form, "team_id")
    if not raw:
        return None
    if not raw.isdigit():
        raise FormError([Issue("form", None, "team", "no such team")], 422)
    return int(raw)


# --- users -----------------------------------------------------------------------------


def _users_page(
    request: Request,
    status_code: int = 200,
    errors: list[Issue] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Response:
    require(request, Permission.MANAGE_USERS)
    with web(request).engine.begin() as conn:
        users = auth.list_users(conn)
        teams = auth.list_teams(conn)
    return render(
        request,
        "admin_users.html",
        status_code=status_code,
        users=users,
        teams=teams,
        team_names={t["team_id"]: t["name"] for t in teams},
        roles=list(Role),
        errors=errors or [],
        values=values or {},
        created=request.query_params.get("created", ""),
    )


@router.get("/admin/users")
def users_page(request: Request) -> Response:
    return _users_page(request)


@router.post("/admin/users")
async def create_user(request: Request) -> Response:
    session, form = await _form(request, Permission.MANAGE_USERS)
    ctx = web(request)
    values = {k: _text(form, k) for k in ("username", "display_name", "role", "team_id")}
    try:
        new = admin.NewUser(
            username=values["username"],
            display_name=values["display_name"],
            role=_role(form),
            team_id=_team(form),
            password=str(form.get("password") or ""),
        )

        def work() -> int:
            with ctx.engine.begin() as conn:
                return admin.add_user(
                    conn, session.user.actor(), new, ctx.clock.now(), client_of(request)
                )

        _changing(work, "username")
    except FormError as exc:
        return _users_page(request, exc.status, exc.issues, values)
    return RedirectResponse(f"/admin/users?created={quote(new.username)}", status_code=303)


def _user_page(
    request: Request,
    user_id: int,
    status_code: int = 200,
    errors: list[Issue] | None = None,
    notice: str = "",
) -> Response:
    session = require(request, Permission.MANAGE_USERS)
    with web(request).engine.begin() as conn:
        user = admin.user_by_id(conn, user_id)
        teams = auth.list_teams(conn)
    return render(
        request,
        "admin_user.html",
        status_code=status_code,
        u=user,
        teams=teams,
        roles=list(Role),
        errors=errors or [],
        notice=notice or request.query_params.get("done", ""),
        is_self=user.user_id == session.user.user_id,
    )


@router.get("/admin/users/{user_id}")
def user_page(request: Request, user_id: int) -> Response:
    return _user_page(request, user_id)


@router.post("/admin/users/{user_id}")
async def update_user(request: Request, user_id: int) -> Response:
    session, form = await _form(request, Permission.MANAGE_USERS)
    ctx = web(request)
    try:
        change = admin.UserChange(
            role=_role(form), team_id=_team(form), active=form.get("active") == "on"
        )

        def work() -> None:
            with ctx.engine.begin() as conn:
                admin.change_user(
                    conn, session.user.actor(), user_id, change, ctx.clock.now(), client_of(request)
                )

        _changing(work, "username")
    except FormError as exc:
        return _user_page(request, user_id, exc.status, exc.issues)
    return RedirectResponse(f"/admin/users/{user_id}?done=saved", status_code=303)


@router.post("/admin/users/{user_id}/password")
async def reset_password(request: Request, user_id: int) -> Response:
    session, form = await _form(request, Permission.MANAGE_USERS)
    ctx = web(request)
    password = str(form.get("password") or "")
    try:
        if password != str(form.get("password_again") or ""):
            raise FormError([Issue("form", None, "password", "the passwords do not match")], 422)

        def work() -> None:
            with ctx.engine.begin() as conn:
                admin.reset_password(
                    conn,
                    session.user.actor(),
                    user_id,
                    password,
                    ctx.clock.now(),
                    client_of(request),
                )

        _changing(work, "password")
    except FormError as exc:
        return _user_page(request, user_id, exc.status, exc.issues)
    return RedirectResponse(f"/admin/users/{user_id}?done=password", status_code=303)


# --- teams -----------------------------------------------------------------------------


def _teams_page(
    request: Request,
    status_code: int = 200,
    errors: list[Issue] | None = None,
    name: str = "",
) -> Response:
    require(request, Permission.MANAGE_USERS)
    with web(request).engine.begin() as conn:
        teams = auth.list_teams(conn)
        sizes = admin.team_sizes(conn)
    return render(
        request,
        "admin_teams.html",
        status_code=status_code,
        teams=teams,
        sizes=sizes,
        errors=errors or [],
        name=name,
        created=request.query_params.get("created", ""),
    )


@router.get("/admin/teams")
def teams_page(request: Request) -> Response:
    return _teams_page(request)


@router.post("/admin/teams")
async def create_team(request: Request) -> Response:
    session, form = await _form(request, Permission.MANAGE_USERS)
    ctx = web(request)
    name = _text(form, "name")

    def work() -> int:
        with ctx.engine.begin() as conn:
            return admin.add_team(
                conn, session.user.actor(), name, ctx.clock.now(), client_of(request)
            )

    try:
        _changing(work, "name")
    except FormError as exc:
        return _teams_page(request, exc.status, exc.issues, name)
    return RedirectResponse("/admin/teams?created=1", status_code=303)


# --- API tokens --------------------------------------------------------------------------


def _tokens_page(
    request: Request,
    status_code: int = 200,
    errors: list[Issue] | None = None,
    name: str = "",
    chosen: frozenset[str] = frozenset(),
) -> Response:
    require(request, Permission.MANAGE_TOKENS)
    with web(request).engine.begin() as conn:
        tokens = auth.list_tokens(conn)
    return render(
        request,
        "admin_tokens.html",
        status_code=status_code,
        tokens=tokens,
        scopes=list(ApiScope),
        errors=errors or [],
        name=name,
        chosen=chosen,
        revoked=request.query_params.get("revoked", ""),
    )


@router.get("/admin/tokens")
def tokens_page(request: Request) -> Response:
    return _tokens_page(request)


@router.post("/admin/tokens")
async def create_token(request: Request) -> Response:
    session, form = await _form(request, Permission.MANAGE_TOKENS)
    ctx = web(request)
    name = _text(form, "name")
    chosen = frozenset(str(v) for v in form.getlist("scope"))
    try:
        scopes = {ApiScope(s) for s in chosen}
    except ValueError:
        issues = [Issue("form", None, "scopes", "unknown value")]
        return _tokens_page(request, 422, issues, name, chosen)

    def work() -> tuple[int, str]:
        with ctx.engine.begin() as conn:
            return admin.issue_token(
                conn, session.user.actor(), name, scopes, ctx.clock.now(), client_of(request)
            )

    try:
        token_id, secret = _changing(work, "name")
    except FormError as exc:
        return _tokens_page(request, exc.status, exc.issues, name, chosen)
    return render(
        request,
        "admin_token_created.html",
        status_code=201,
        token_id=token_id,
        name=name,
        scopes=sorted(s.value for s in scopes),
        secret=secret,
    )


@router.post("/admin/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: int) -> Response:
    session, _form_data = await _form(request, Permission.MANAGE_TOKENS)
    ctx = web(request)
    with ctx.engine.begin() as conn:
        admin.withdraw_token(
            conn, session.user.actor(), token_id, ctx.clock.now(), client_of(request)
        )
    return RedirectResponse(f"/admin/tokens?revoked={token_id}", status_code=303)

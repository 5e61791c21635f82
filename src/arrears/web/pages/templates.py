"""Message and letter templates (Jinja2) per name and language: the list, an editor with a
preview rendered from sample values, and saving a new version. Managers edit; compliance
reads (list, history, preview). Every save is checked (required elements, opt-out under the
US pack, CN-X1, CN-R2 for letters, syntax, variables) and audited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from arrears.domain.errors import Issue, NotFound, ValidationError
from arrears.domain.people import Permission, may
from arrears.services import template_store
from arrears.web.context import check_csrf, render, require, web

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_OTHER_FIELDS = frozenset({"subject", "name", "locale", "version"})  # not about the body


@router.get("/templates")
def templates(request: Request) -> Response:
    require(request, Permission.VIEW_TEMPLATES)
    return _list(request)


def _list(
    request: Request, errors: list[Issue] | None = None, name: str = "", locale: str = ""
) -> Response:
    session = require(request, Permission.VIEW_TEMPLATES)
    ctx = web(request)
    with ctx.engine.connect() as conn:
        rows = template_store.list_templates(conn)
    return render(
        request,
        "templates.html",
        status_code=422 if errors else 200,
        rows=rows,
        template_locales=template_store.LOCALES,
        errors=errors or [],
        new_name=name,
        new_locale=locale,
        may_edit=may(session.user.role, Permission.EDIT_TEMPLATES),
    )


def _editor(
    request: Request,
    name: str,
    locale: str,
    *,
    subject: str | None = None,
    body: str | None = None,
    base_version: int | None = None,
    status_code: int = 200,
    errors: list[Issue] | None = None,
    preview: template_store.Preview | None = None,
    saved: int | None = None,
    shown_version: int | None = None,
) -> Response:
    session = require(request, Permission.VIEW_TEMPLATES)
    channel = template_store.channel_of(name)
    if channel is None or locale not in template_store.LOCALES:
        raise NotFound(f"no template {name!r} ({locale})")
    ctx = web(request)
    with ctx.engine.connect() as conn:
        now = template_store.current(conn, name, locale)
        versions = template_store.history(conn, name, locale)
        shown = (
            template_store.version_of(conn, name, locale, shown_version)
            if shown_version is not None
            else now
        )
    current_version = now.version if now is not None else 0
    return render(
        request,
        "template_edit.html",
        status_code=status_code,
        name=name,
        locale=locale,
        channel=channel,
        subject=(shown.subject if shown else None) if body is None else subject,
        body=(shown.body if shown else "") if body is None else body,
        shown_version=shown.version if shown is not None else None,
        current_version=current_version,
        base_version=current_version if base_version is None else base_version,
        is_new=now is None,
        history=versions,
        variables=sorted(template_store.VARIABLES[channel] - {"css"}),
        pack=ctx.compliance_pack,
        errors=errors or [],
        error_fields={e.column for e in errors or []},
        body_invalid=any(e.column not in _OTHER_FIELDS for e in errors or []),
        preview=preview,
        saved=saved,
        may_edit=may(session.user.role, Permission.EDIT_TEMPLATES),
    )


@router.get("/templates/edit")
def edit(
    request: Request, name: str = "", locale: str = "", version: str = "", saved: str = ""
) -> Response:
    require(request, Permission.VIEW_TEMPLATES)
    if not name or not locale:
        return RedirectResponse("/templates", status_code=303)
    if template_store.channel_of(name) is None or locale not in template_store.LOCALES:
        issues, _, _ = template_store.check(name, locale, "-")
        return _list(request, [i for i in issues if i.column in ("name", "locale")], name, locale)
    shown = int(version) if version.isdigit() and int(version) > 0 else None
    return _editor(
        request, name, locale, shown_version=shown, saved=int(saved) if saved.isdigit() else None
    )


def _fields(form: Any) -> tuple[str, str, str | None, str, int | None]:
    base = str(form.get("base_version") or "")
    return (
        str(form.get("name") or "").strip(),
        str(form.get("locale") or "").strip(),
        str(form.get("subject") or "") or None,
        str(form.get("body") or ""),
        int(base) if base.isdigit() else None,
    )


@router.post("/templates/preview")
async def preview(request: Request) -> Response:
    session = require(request, Permission.VIEW_TEMPLATES)
    form = await request.form()
    check_csrf(session, form)
    name, locale, subject, body, base = _fields(form)
    shown = template_store.preview(name, locale, body, subject, web(request).compliance_pack)
    return _editor(
        request,
        name,
        locale,
        subject=subject,
        body=body,
        base_version=base,
        errors=shown.issues,
        preview=shown,
    )


@router.post("/templates")
async def save(request: Request) -> Response:
    session = require(request, Permission.EDIT_TEMPLATES)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    name, locale, subject, body, base = _fields(form)
    if template_store.channel_of(name) is None or locale not in template_store.LOCALES:
        raise NotFound(f"no template {name!r} ({locale})")
    try:
        with ctx.engine.begin() as conn:
            version = template_store.save_template(
                conn,
                session.user.actor(),
                name,
                locale,
                body,
                ctx.clock.now(),
                subject=subject,
                pack=ctx.compliance_pack,
                note=str(form.get("note") or ""),
                base_version=base,
            )
    except ValidationError as exc:
        return _editor(
            request,
            name,
            locale,
            subject=subject,
            body=body,
            base_version=base,
            status_code=422,
            errors=exc.issues,
        )
    return RedirectResponse(
        f"/templates/edit?name={name}&locale={locale}&saved={version}", status_code=303
    )

"""Message and letter templates edited in the app: each save is a new version per (name,
locale) — append-only, checked, audited — and the newest version is the one sent. Until a
manager saves one, the code default applies (``services.message_templates.TEMPLATES`` for
SMS and e-mail, the shipped letter of ``adapters.channels.letters`` for ``letter_*`` names).

A template is refused (``ValidationError``, nothing stored) when:

- its name is not ``sms_…``, ``email_…`` or ``letter_…`` (the prefix is its channel) or the
  locale is not zh_CN / en;
- it does not parse (the error names the line) or does not render in the sandbox with sample
  values;
- it uses a variable outside the documented set of its channel (``VARIABLES``);
- ``check_template`` finds a problem for the channel and the lender's pack: a missing
  required element (SMS: lender, amount, pay_how; e-mail: also object_how), a missing
  ``opt_out`` under the US pack (US-E1), CN-X1 prohibited language; letters: CN-R2
  (``services.letters.check_letter_template``). The e-mail subject and the rendered sample
  are screened for CN-X1 too (so text assembled from pieces is caught).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from html.parser import HTMLParser
from typing import Any

from babel.numbers import format_currency
from jinja2 import TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import Connection, and_, func, insert, select
from sqlalchemy.exc import IntegrityError

from arrears.adapters.channels import letters as letter_render
from arrears.adapters.db import template_tables as tt
from arrears.adapters.db.engine import savepoint
from arrears.domain.compliance import DEFAULT_LEXICON, screen_text
from arrears.domain.compliance.lexicon import X1_CATEGORIES
from arrears.domain.errors import Issue, NotFound, ValidationError
from arrears.domain.people import Actor, mask_name
from arrears.services.audit import record
from arrears.services.letters import (
    LETTER_ELEMENTS,
    LETTER_TEXTS,
    CollectionLetter,
    check_letter_template,
    compose_letter,
)
from arrears.services.message_templates import TEMPLATES, Rendered, check_template, render_message

__all__ = [
    "CHANNELS",
    "LOCALES",
    "VARIABLES",
    "Preview",
    "TemplateInfo",
    "TemplateVersion",
    "channel_of",
    "check",
    "current",
    "history",
    "list_templates",
    "preview",
    "save_template",
    "stored_latest",
]

CHANNELS = ("sms", "email", "letter")
LOCALES = ("zh_CN", "en")
MAX_CHARS = 50_000
_NAME = re.compile(r"^(sms|email|letter)_[a-z0-9_]{1,56}$")

_MESSAGE_VARIABLES = frozenset(
    {"name", "lender", "amount", "due_date", "days", "pay_how", "object_how", "opt_out"}
)
# The variables a template of each channel may use (what the sender fills in).
VARIABLES: dict[str, frozenset[str]] = {
    "sms": _MESSAGE_VARIABLES,
    "email": _MESSAGE_VARIABLES,
    "letter": frozenset(LETTER_ELEMENTS)
    | {"lender_name", "reference", "letter_date", "as_of", "css"},
}

_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)
_SAMPLE_DATE = date(2026, 12, 1)


@dataclass(frozen=True, slots=True)
class TemplateVersion:
    """One template text: a saved version (``version`` ≥ 1) or the code default (0)."""

    name: str
    locale: str
    channel: str
    subject: str | None
    body: str
    version: int
    note: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    """A row of the template list: what is sent now for (name, locale)."""

    name: str
    locale: str
    channel: str
    version: int  # 0: the code default
    shipped: bool  # a code default exists
    created_by: str | None
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class Preview:
    subject: str | None
    body: str  # plain text (SMS, e-mail) or the letter's HTML
    html: bool
    issues: list[Issue]


def channel_of(name: str) -> str | None:
    """The channel a template name stands for (its prefix), None when the name is not valid."""
    return name.split("_", 1)[0] if _NAME.match(name) else None


@cache
def _shipped_letter_names() -> tuple[str, ...]:
    """The letter templates the shipped strategy names (all default to the shipped letter)."""
    from arrears.services.strategy_files import load_arms

    names = {
        action.template
        for arm in load_arms()
        for segment in arm.strategy.segments
        for step in segment.steps
        for action in step.actions
        if action.template and action.template.startswith("letter_")
    }
    return tuple(sorted(names))


def _default(name: str, locale: str) -> TemplateVersion | None:
    channel = channel_of(name)
    if channel is None or locale not in LOCALES:
        return None
    if channel == "letter":
        return TemplateVersion(
            name, locale, channel, None, letter_render.letter_template(locale), 0
        )
    found = TEMPLATES.get((name, locale))
    return None if found is None else TemplateVersion(name, locale, channel, *found, 0)


def _defaults() -> dict[tuple[str, str], TemplateVersion]:
    keys = list(TEMPLATES) + [(n, loc) for n in _shipped_letter_names() for loc in LOCALES]
    out = {}
    for name, locale in keys:
        found = _default(name, locale)
        if found is not None:
            out[(name, locale)] = found
    return out


def _version(row: Any) -> TemplateVersion:
    return TemplateVersion(
        row.name,
        row.locale,
        row.channel,
        row.subject,
        row.body,
        int(row.version),
        row.note,
        row.created_by,
        row.created_at,
    )


def stored_latest(conn: Connection) -> dict[tuple[str, str], TemplateVersion]:
    """The newest saved version of every (name, locale) — what the sender uses (one query)."""
    v = tt.message_template_versions
    newest = (
        select(v.c.name, v.c.locale, func.max(v.c.version).label("version"))
        .group_by(v.c.name, v.c.locale)
        .subquery()
    )
    rows = conn.execute(
        select(v).join(
            newest,
            and_(
                v.c.name == newest.c.name,
                v.c.locale == newest.c.locale,
                v.c.version == newest.c.version,
            ),
        )
    )
    return {(r.name, r.locale): _version(r) for r in rows}


def current(conn: Connection, name: str, locale: str) -> TemplateVersion | None:
    """What is sent for (name, locale): the newest saved version, else the code default."""
    v = tt.message_template_versions
    row = conn.execute(
        select(v)
        .where(v.c.name == name, v.c.locale == locale)
        .order_by(v.c.version.desc())
        .limit(1)
    ).first()
    return _version(row) if row is not None else _default(name, locale)


def history(conn: Connection, name: str, locale: str) -> list[TemplateVersion]:
    """Every saved version of (name, locale), newest first."""
    v = tt.message_template_versions
    rows = conn.execute(
        select(v).where(v.c.name == name, v.c.locale == locale).order_by(v.c.version.desc())
    )
    return [_version(r) for r in rows]


def version_of(conn: Connection, name: str, locale: str, version: int) -> TemplateVersion:
    """One saved version (NotFound when there is none)."""
    v = tt.message_template_versions
    row = conn.execute(
        select(v).where(v.c.name == name, v.c.locale == locale, v.c.version == version)
    ).first()
    if row is None:
        raise NotFound(f"no version {version} of {name} ({locale})")
    return _version(row)


def list_templates(conn: Connection) -> list[TemplateInfo]:
    """Every template (code defaults and saved ones) by name × locale, with what is sent now."""
    defaults = _defaults()
    stored = stored_latest(conn)
    out = []
    for key in sorted(set(defaults) | set(stored)):
        now = stored.get(key) or defaults[key]
        shipped = key in defaults or (_default(*key) is not None and now.channel == "letter")
        out.append(
            TemplateInfo(
                key[0], key[1], now.channel, now.version, shipped, now.created_by, now.created_at
            )
        )
    return out


def sample_values(locale: str, pack: str = "CN") -> dict[str, Any]:
    """Values for a preview and the save-time trial render: a masked sample borrower, a sample
    amount formatted for the template's language."""
    zh = locale == "zh_CN"
    return {
        "name": mask_name("张伟" if zh else "Alice Smith"),
        "lender": "示例消费金融" if zh else "Sample Finance",
        "amount": str(format_currency(Decimal("1234.56"), "CNY", locale=locale)),
        "due_date": _SAMPLE_DATE.isoformat(),
        "days": 5,
        "pay_how": "App「还款」页面" if zh else "the Repay page of our app",
        "object_how": "客服热线 400-000-0000" if zh else "call 400-000-0000",
        "opt_out": "" if pack.upper() == "CN" else "Reply STOP to opt out.",
    }


def _sample_letter(locale: str) -> CollectionLetter:
    values = sample_values(locale)
    return CollectionLetter(
        locale=locale,
        reference=f"{_SAMPLE_DATE:%Y%m%d}-SAMPLE",
        letter_date=_SAMPLE_DATE,
        as_of=_SAMPLE_DATE,
        borrower_name=str(values["name"]),
        amount_owed_minor=123456,
        currency="CNY",
        how_to_check=str(values["pay_how"]),
        how_to_object=str(values["object_how"]),
        lender_name=str(values["lender"]),
        lender_contact=str(values["object_how"]),
        **LETTER_TEXTS[locale],
    )


def _issue(column: str, reason: str, line: int | None = None) -> Issue:
    return Issue("template", line, column, reason)


def _parse(source: str, column: str, allowed: frozenset[str], issues: list[Issue]) -> bool:
    """Parse one field; record a syntax error (with its line: False) or undefined variables."""
    try:
        ast = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        issues.append(_issue(column, f"line {exc.lineno}: {exc.message}", exc.lineno))
        return False
    unknown = sorted(set(meta.find_undeclared_variables(ast)) - allowed - set(_ENV.globals))
    if unknown:
        shown = ", ".join(sorted(allowed - {"css"}))
        issues.append(
            _issue(column, f"unknown variable(s): {', '.join(unknown)}; available: {shown}")
        )
    return True


def _x1(text: str, column: str, seen: set[str]) -> list[Issue]:
    out = []
    for h in screen_text(text, DEFAULT_LEXICON):
        if h.category in X1_CATEGORIES and h.term not in seen:
            seen.add(h.term)
            out.append(_issue(column, f"CN-X1: prohibited language ({h.category}: {h.term})"))
    return out


def _render(
    name: str, locale: str, channel: str, subject: str | None, body: str, pack: str
) -> tuple[Rendered, bool]:
    """The template rendered with sample values (raises TemplateError and the like)."""
    if channel == "letter":
        letter = compose_letter(_sample_letter(locale), source=body, with_pdf=False)
        return Rendered(None, letter.html), True
    return render_message(
        name, locale, sample_values(locale, pack), {(name, locale): (subject, body)}
    ), False


def check(
    name: str, locale: str, body: str, subject: str | None = None, pack: str = "CN"
) -> tuple[list[Issue], Rendered | None, bool]:
    """Every problem of a template (empty: it may be saved), and the sample rendering when it
    renders (with whether it is HTML)."""
    channel = channel_of(name)
    issues: list[Issue] = []
    if channel is None:
        issues.append(_issue("name", "a template name is sms_…, email_… or letter_… (a-z, 0-9, _)"))
    if locale not in LOCALES:
        issues.append(_issue("locale", f"the language is one of {', '.join(LOCALES)}"))
    if not body.strip():
        issues.append(_issue("body", "the template is empty"))
    if len(body) > MAX_CHARS or len(subject or "") > 1000:
        issues.append(_issue("body", f"at most {MAX_CHARS} characters"))
    if channel == "email" and not (subject or "").strip():
        issues.append(_issue("subject", "an e-mail needs a subject"))
    if issues or channel is None:
        return issues, None, False
    allowed = VARIABLES[channel]
    parses = _parse(body, "body", allowed, issues)
    if channel == "email":
        parses = _parse(subject or "", "subject", allowed, issues) and parses
    parsed = parses and not issues  # parses, and every variable is a documented one
    seen: set[str] = set()
    if channel == "letter":
        if parses:  # the letter check reports a syntax error of its own
            issues.extend(check_letter_template(body))
    else:
        for found in check_template(channel, body, pack):
            issues.append(found)
            hit = re.search(r"\(\w+: (.+)\)$", found.reason)
            if found.column == "text" and hit:
                seen.add(hit.group(1))
        if channel == "email":
            issues.extend(_x1(subject or "", "subject", seen))
    if not parsed:
        return issues, None, False
    try:
        rendered, html = _render(name, locale, channel, subject, body, pack)
    except ValidationError as exc:  # a letter: CN-R2 / CN-X1 on the composed letter
        known = {i.reason for i in issues}
        issues.extend(i for i in exc.issues if i.reason not in known)
        return issues, None, False
    except (
        TemplateError,
        TypeError,
        ValueError,
        ArithmeticError,
        LookupError,
        AttributeError,
    ) as exc:
        line = getattr(exc, "lineno", None)
        issues.append(_issue("body", f"does not render: {exc}", line))
        return issues, None, False
    if channel != "letter":
        issues.extend(_x1(f"{rendered.subject or ''}\n{rendered.body}", "text", seen))
    return issues, rendered, html


def preview(
    name: str, locale: str, body: str, subject: str | None = None, pack: str = "CN"
) -> Preview:
    """The template rendered with sample values, and what would stop it being saved."""
    issues, rendered, html = check(name, locale, body, subject, pack)
    if rendered is None:
        return Preview(None, "", False, issues)
    text = _text_of(rendered.body) if html else rendered.body
    return Preview(rendered.subject, text, html, issues)


class _Text(HTMLParser):
    """The visible text of a letter's HTML, a line per block (for a preview that shows no
    markup of the template author)."""

    _BLOCKS = frozenset({"p", "div", "h1", "h2", "h3", "li", "br", "tr", "section"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("style", "script", "title"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _text_of(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def save_template(
    conn: Connection,
    actor: Actor,
    name: str,
    locale: str,
    body: str,
    now: datetime,
    subject: str | None = None,
    pack: str = "CN",
    note: str | None = None,
    base_version: int | None = None,
) -> int:
    """Check and store a new version of (name, locale); audited. Returns the version number.

    ``base_version`` is the version the editor started from (0: the code default): when
    someone saved another version meanwhile the save is refused instead of overwriting it.
    """
    body = body.replace("\r\n", "\n")
    subject = (subject or "").replace("\r\n", "\n").strip() or None
    issues, _, _ = check(name, locale, body, subject, pack)
    channel = channel_of(name)
    if issues or channel is None:  # an invalid name is an issue already
        raise ValidationError(issues)
    if channel != "email":
        subject = None
    v = tt.message_template_versions
    latest = int(
        conn.execute(
            select(func.coalesce(func.max(v.c.version), 0)).where(
                v.c.name == name, v.c.locale == locale
            )
        ).scalar_one()
    )
    if base_version is not None and base_version != latest:
        raise ValidationError(
            [
                _issue(
                    "version",
                    f"version {latest} of {name} ({locale}) was saved after you opened it: "
                    "reload, then apply your change again",
                )
            ]
        )
    try:
        with savepoint(conn):
            conn.execute(
                insert(v).values(
                    name=name,
                    locale=locale,
                    channel=channel,
                    subject=subject,
                    body=body,
                    version=latest + 1,
                    note=(note or "").strip()[:500] or None,
                    created_by=actor.name[:80],
                    created_at=now,
                )
            )
    except IntegrityError as exc:
        raise ValidationError(
            [_issue("version", f"{name} ({locale}) was saved by someone else just now: reload")]
        ) from exc
    record(
        conn,
        actor,
        "save_template",
        "template",
        f"{name}/{locale}",
        now,
        reason=(note or "").strip()[:500] or None,
        detail={"version": latest + 1, "channel": channel, "pack": pack.upper()},
    )
    return latest + 1


def message_sources(
    stored: Mapping[tuple[str, str], TemplateVersion],
) -> dict[tuple[str, str], tuple[str | None, str]]:
    """Saved SMS / e-mail versions as ``render_message`` takes them."""
    return {k: (t.subject, t.body) for k, t in stored.items() if t.channel != "letter"}

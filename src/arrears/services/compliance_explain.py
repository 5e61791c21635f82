"""`arrears compliance explain`: read an attempt and a contact history, ask the gate, explain.

``attempt.json`` is one JSON object; ``history.jsonl`` has one JSON object per line (a past
attempt, or a state event when it has an ``event`` key). Every problem is reported with file,
line and field, all at once, as a ``ValidationError``; nothing is judged from bad input.
The schemas are in docs/compliance.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from arrears.domain.compliance import (
    Actor,
    ActorKind,
    Attempt,
    Channel,
    ClockWindow,
    EventKind,
    HistoryEntry,
    Outcome,
    PastAttempt,
    Purpose,
    StateEvent,
    Target,
    TargetKind,
    decide,
    pack_by_id,
)
from arrears.domain.compliance.packs import Pack
from arrears.domain.errors import Issue, ValidationError

__all__ = ["explain", "read_attempt", "read_history"]

E = TypeVar("E", bound=StrEnum)


class _Missing(Exception):
    """A field failed; its issue is already logged."""


class _Reader:
    """Reads fields of one JSON object, logging an issue per bad field."""

    def __init__(
        self,
        file: str,
        line: int | None,
        issues: list[Issue],
        locate: Callable[[str], int | None] | None = None,
    ) -> None:
        self.file, self.line, self.issues, self.locate = file, line, issues, locate

    def fail(self, field: str, reason: str) -> _Missing:
        leaf = field.rsplit(".", 1)[-1]
        line = self.line if self.locate is None else self.locate(leaf)
        self.issues.append(Issue(self.file, line, field, reason))
        return _Missing()

    def obj(self, data: dict[str, Any], field: str, required: bool = True) -> dict[str, Any] | None:
        value = data.get(field.rsplit(".", 1)[-1])
        if value is None and not required:
            return None
        if not isinstance(value, dict):
            raise self.fail(field, "missing" if value is None else "must be an object")
        return value

    def text(self, data: dict[str, Any], field: str, required: bool = True) -> str | None:
        value = data.get(field.rsplit(".", 1)[-1])
        if value is None and not required:
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.fail(field, "missing" if value is None else "must be a non-empty string")
        return value

    def enum(
        self, data: dict[str, Any], field: str, kind: type[E], required: bool = True
    ) -> E | None:
        value = self.text(data, field, required)
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(k.value for k in kind)
            raise self.fail(field, f"{value!r} is not one of {allowed}") from None

    def instant(self, data: dict[str, Any], field: str, required: bool = True) -> datetime | None:
        value = self.text(data, field, required)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(field, f"{value!r} is not an ISO 8601 timestamp") from None
        if parsed.tzinfo is None:
            raise self.fail(field, f"{value!r} has no UTC offset (e.g. +08:00 or Z)")
        return parsed

    def clock(self, data: dict[str, Any], field: str) -> time:
        value = self.text(data, field)
        try:
            return time.fromisoformat(value or "")
        except ValueError:
            raise self.fail(field, f"{value!r} is not a time HH:MM") from None

    def only(self, data: dict[str, Any], prefix: str, allowed: set[str]) -> None:
        """Unknown keys are errors: a misspelt ``text`` would escape screening."""
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise self.fail(
                prefix + unknown[0],
                f"unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})",
            )

    def flag(self, data: dict[str, Any], field: str) -> bool:
        value = data.get(field.rsplit(".", 1)[-1], False)
        if not isinstance(value, bool):
            raise self.fail(field, "must be true or false")
        return value


def _target(r: _Reader, data: dict[str, Any], field: str) -> Target:
    obj = r.obj(data, field)
    assert obj is not None  # noqa: S101 - required=True
    parts: list[Callable[[], object]] = [
        lambda: r.only(obj, f"{field}.", {"kind", "address", "relation", "timezone", "workplace"}),
        lambda: r.enum(obj, f"{field}.kind", TargetKind, required=False) or TargetKind.THIRD_PARTY,
        lambda: r.text(obj, f"{field}.address"),
        lambda: r.text(obj, f"{field}.relation", required=False),
        lambda: r.text(obj, f"{field}.timezone", required=False),
        lambda: r.flag(obj, f"{field}.workplace"),
    ]
    _, kind, address, relation, zone, workplace = _all(parts)
    return Target(kind, address, relation, zone, workplace)  # type: ignore[arg-type]


def _actor(r: _Reader, data: dict[str, Any], field: str, required: bool = True) -> Actor:
    obj = r.obj(data, field, required)
    if obj is None:
        return Actor(ActorKind.SYSTEM)
    _, kind, ident, agency = _all(
        [
            lambda: r.only(obj, f"{field}.", {"kind", "id", "agency"}),
            lambda: r.enum(obj, f"{field}.kind", ActorKind),
            lambda: r.text(obj, f"{field}.id", required=False),
            lambda: r.text(obj, f"{field}.agency", required=False),
        ]
    )
    return Actor(kind, ident, agency)  # type: ignore[arg-type]


def _all(parts: list[Callable[[], object]]) -> list[object]:
    """Run every field reader (so every bad field is reported), then fail if any failed."""
    values: list[object] = []
    failed = False
    for part in parts:
        try:
            values.append(part())
        except _Missing:
            failed = True
            values.append(None)
    if failed:
        raise _Missing()
    return values


def _attempt(r: _Reader, data: dict[str, Any], pack: str) -> Attempt:
    def letter() -> dict[str, str] | None:
        obj = r.obj(data, "letter", required=False)
        if obj is not None and not all(isinstance(v, str) for v in obj.values()):
            raise r.fail("letter", "every letter field must be a string")
        return obj

    def staff() -> tuple[str, ...] | None:
        value = data.get("staff")
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise r.fail("staff", "must be a list of staff ids")
        return tuple(value)

    known = {"pack", "channel", "purpose", "target", "at", "actor", "text", "letter", "staff"}
    _, channel, purpose, target, at, actor, text, fields, people = _all(
        [
            lambda: r.only(data, "", known),
            lambda: r.enum(data, "channel", Channel),
            lambda: r.enum(data, "purpose", Purpose),
            lambda: _target(r, data, "target"),
            lambda: r.instant(data, "at"),
            lambda: _actor(r, data, "actor"),
            lambda: r.text(data, "text", required=False),
            letter,
            staff,
        ]
    )
    return Attempt(pack, channel, purpose, target, at, actor, text, fields, people)  # type: ignore[arg-type]


def _event(r: _Reader, data: dict[str, Any]) -> StateEvent:
    kind = r.enum(data, "event", EventKind)
    assert kind is not None  # noqa: S101 - required=True
    extra = {
        EventKind.OPT_OUT: {"channel", "address"},
        EventKind.CONSENT: {"scope", "window"},
        EventKind.HARDSHIP_PAUSE: {"until"},
        EventKind.EMPLOYER_FORBIDS: {"address"},
        EventKind.AGENCY_NOTICE: {"agency"},
    }.get(kind, set())
    r.only(data, "", {"event", "at", "note", *extra})
    at = r.instant(data, "at")
    assert at is not None  # noqa: S101 - required=True
    if kind is EventKind.OPT_OUT:
        channel = r.enum(data, "channel", Channel, required=False)
        address = r.text(data, "address", required=False)
        if channel is None and address is None:
            raise r.fail("channel", "an opt_out names a channel, an address, or both")
        return StateEvent(kind, at, channel=channel, address=address)
    if kind is EventKind.CONSENT:
        window = r.obj(data, "window")
        assert window is not None  # noqa: S101 - required=True
        start, end = _all(
            [lambda: r.clock(window, "window.start"), lambda: r.clock(window, "window.end")]
        )
        return StateEvent(kind, at, scope=_scope(r, data), window=ClockWindow(start, end))  # type: ignore[arg-type]
    if kind is EventKind.HARDSHIP_PAUSE:
        return StateEvent(kind, at, until=r.instant(data, "until", required=False))
    if kind is EventKind.EMPLOYER_FORBIDS:
        return StateEvent(kind, at, address=r.text(data, "address", required=False))
    if kind is EventKind.AGENCY_NOTICE:
        return StateEvent(kind, at, agency=r.text(data, "agency", required=False))
    return StateEvent(kind, at)


def _scope(r: _Reader, data: dict[str, Any]) -> tuple[Channel, ...]:
    value = data.get("scope", [])
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list):
        raise r.fail("scope", "must be a channel or a list of channels")
    try:
        return tuple(sorted({Channel(v) for v in values}))
    except (ValueError, TypeError):
        raise r.fail("scope", f"{value!r}: channels are {', '.join(Channel)}") from None


def _past(r: _Reader, data: dict[str, Any]) -> PastAttempt:
    known = {"channel", "target", "at", "outcome", "actor", "purpose"}
    _, channel, target, at, outcome, actor, purpose = _all(
        [
            lambda: r.only(data, "", known),
            lambda: r.enum(data, "channel", Channel),
            lambda: _target(r, data, "target"),
            lambda: r.instant(data, "at"),
            lambda: r.enum(data, "outcome", Outcome),
            lambda: _actor(r, data, "actor", required=False),
            lambda: r.enum(data, "purpose", Purpose, required=False),
        ]
    )
    return PastAttempt(channel, target, at, outcome, actor, purpose)  # type: ignore[arg-type]


def _line_of(raw: str) -> Callable[[str], int | None]:
    def locate(key: str) -> int | None:
        for number, line in enumerate(raw.splitlines(), start=1):
            if f'"{key}"' in line:
                return number
        return None

    return locate


def _load_object(path: Path, issues: list[Issue]) -> tuple[dict[str, Any], str] | None:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        issues.append(Issue(str(path), None, None, f"cannot read: {exc}"))
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        issues.append(Issue(str(path), exc.lineno, None, f"malformed JSON: {exc.msg}"))
        return None
    if not isinstance(data, dict):
        issues.append(Issue(str(path), 1, None, "must be one JSON object"))
        return None
    return data, raw


def read_attempt(path: Path, pack_option: str | None, issues: list[Issue]) -> Attempt | None:
    loaded = _load_object(path, issues)
    if loaded is None:
        return None
    data, raw = loaded
    r = _Reader(str(path), None, issues, _line_of(raw))
    named = data.get("pack")
    if named is not None and not isinstance(named, str):
        issues.append(Issue(str(path), _line_of(raw)("pack"), "pack", "must be CN or US"))
        return None
    if pack_option and named and pack_option.upper() != named.upper():
        issues.append(
            Issue(
                str(path),
                _line_of(raw)("pack"),
                "pack",
                f"{named!r} differs from --pack {pack_option}",
            )
        )
        return None
    try:
        return _attempt(r, data, (pack_option or named or "CN").upper())
    except _Missing:
        return None


def _lines(path: Path, issues: list[Issue]) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        issues.append(Issue(str(path), None, None, f"cannot read: {exc}"))
        return
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                issues.append(
                    Issue(
                        str(path), number, None, f"malformed JSON (column {exc.colno}): {exc.msg}"
                    )
                )
                continue
            if not isinstance(data, dict):
                issues.append(Issue(str(path), number, None, "each line must be one JSON object"))
                continue
            yield number, data


def read_history(path: Path, issues: list[Issue]) -> list[HistoryEntry]:
    entries: list[HistoryEntry] = []
    for number, data in _lines(path, issues):
        r = _Reader(str(path), number, issues)
        try:
            entries.append(_event(r, data) if "event" in data else _past(r, data))
        except _Missing:
            continue
    return entries


def explain(
    attempt_path: Path,
    history_path: Path | None,
    pack_option: str | None = None,
    pack: Pack | None = None,
) -> dict[str, object]:
    """The gate's decision for the attempt in ``attempt_path`` as a JSON-ready dict.

    ``pack`` (e.g. with a lender's parameters) replaces the stock pack of that id."""
    issues: list[Issue] = []
    if pack_option is not None and pack_option.upper() not in ("CN", "US"):
        issues.append(Issue("command line", None, "--pack", f"{pack_option!r} is not CN or US"))
        raise ValidationError(issues)
    attempt = read_attempt(attempt_path, pack_option, issues)
    history = read_history(history_path, issues) if history_path is not None else []
    if issues or attempt is None:
        raise ValidationError(issues)
    chosen = pack if pack is not None and pack.pack_id == attempt.pack else pack_by_id(attempt.pack)
    return decide(attempt, history, chosen).to_json()

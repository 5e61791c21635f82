"""`arrears compliance explain` end to end on files in a temp folder (CLI + service + gate)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from arrears.cli import cli

runner = CliRunner()

ATTEMPT: dict[str, Any] = {
    "pack": "CN",
    "channel": "call",
    "purpose": "collection",
    "target": {"kind": "borrower", "address": "+8613800000001", "timezone": "Asia/Shanghai"},
    "at": "2026-11-28T22:00:00+08:00",
    "actor": {"kind": "collector", "id": "c1"},
}
HISTORY: list[dict[str, Any]] = [
    {
        "channel": "call",
        "target": {"kind": "borrower", "address": "+8613800000001"},
        "at": "2026-11-28T09:00:00+08:00",
        "outcome": "answered",
        "actor": {"kind": "agency", "id": "a1", "agency": "Acme"},
        "purpose": "collection",
    },
    {"event": "dispute_opened", "at": "2026-11-20T10:00:00+08:00"},
    {"event": "dispute_closed", "at": "2026-11-22T10:00:00+08:00"},
    {
        "event": "consent",
        "at": "2026-11-01T10:00:00+08:00",
        "scope": ["sms"],
        "window": {"start": "22:00", "end": "23:00"},
    },
]


def write(tmp_path: Path, attempt: dict[str, Any], history: list[Any] | None = None) -> list[str]:
    a = tmp_path / "attempt.json"
    a.write_text(json.dumps(attempt, ensure_ascii=False, indent=2), encoding="utf-8")
    h = tmp_path / "history.jsonl"
    lines = [x if isinstance(x, str) else json.dumps(x) for x in (history or [])]
    h.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ["compliance", "explain", "--attempt", str(a), "--history", str(h)]


def explain(
    tmp_path: Path, attempt: dict[str, Any], history: list[Any] | None = None, *extra: str
) -> dict[str, Any]:
    result = runner.invoke(cli, [*write(tmp_path, attempt, history), *extra])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_blocked_in_quiet_hours_with_next_allowed_at(tmp_path: Path) -> None:
    out = explain(tmp_path, ATTEMPT, HISTORY)
    assert out["allowed"] is False
    assert out["blocked_by"] == ["CN-T1"]
    assert out["rules"] == ["CN-R1", "CN-T1"]
    assert out["next_allowed_at"] == "2026-11-29T00:00:00+00:00"
    assert out["duties"][0]["duty"] == "record_call"
    assert out["pack"]["id"] == "CN"
    assert out["pack"]["version"] == "1"
    assert "22:00–08:00" in out["reasons"]["en"]
    assert "禁止联系" in out["reasons"]["zh-CN"]


def test_allowed_at_the_boundary_and_without_history(tmp_path: Path) -> None:
    out = explain(tmp_path, {**ATTEMPT, "at": "2026-11-28T21:59:00+08:00"}, HISTORY)
    assert out["allowed"] is True
    a = tmp_path / "attempt.json"
    result = runner.invoke(cli, ["compliance", "explain", "--attempt", str(a)])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["allowed"] is True


def test_us_pack_with_missing_timezone(tmp_path: Path) -> None:
    attempt = {
        **ATTEMPT,
        "pack": "US",
        "target": {"kind": "borrower", "address": "+13125550100"},
        "at": "2026-07-02T01:00:00+00:00",
        "actor": {"kind": "agency", "id": "x", "agency": "Acme"},
    }
    out = explain(tmp_path, attempt, [])
    assert out["blocked_by"] == ["US-T1"]
    assert out["next_allowed_at"] == "2026-07-02T18:00:00+00:00"
    assert "Pacific/Honolulu" in out["reasons"]["en"]


def test_pack_option_and_the_attempts_pack_must_agree(tmp_path: Path) -> None:
    out = explain(tmp_path, {k: v for k, v in ATTEMPT.items() if k != "pack"}, [], "--pack", "US")
    assert out["pack"]["id"] == "US"
    result = runner.invoke(cli, [*write(tmp_path, ATTEMPT, []), "--pack", "US"])
    assert result.exit_code == 2
    assert "--pack" in result.output


def test_malformed_history_line_names_file_line_and_field(tmp_path: Path) -> None:
    bad_field = {**HISTORY[0], "outcome": "maybe"}
    result = runner.invoke(cli, write(tmp_path, ATTEMPT, [HISTORY[1], "{not json", bad_field]))
    assert result.exit_code != 0
    text = " ".join(result.output.split())
    assert "history.jsonl:2" in text
    assert "malformed JSON" in text
    assert "history.jsonl:3 [outcome]" in text
    assert "'maybe' is not one of answered" in text


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"at": "2026-11-28T22:00:00"},
            "attempt.json:10 [at]: '2026-11-28T22:00:00' has no UTC offset",
        ),
        ({"channel": "fax"}, "[channel]: 'fax' is not one of"),
        ({"target": {"kind": "borrower"}}, "[target.address]: missing"),
        ({"txt": "hello"}, "[txt]: unknown field(s) txt"),
    ],
)
def test_bad_attempt_fields_are_named(
    tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    result = runner.invoke(cli, write(tmp_path, {**ATTEMPT, **change}, []))
    assert result.exit_code == 2
    assert expected in " ".join(result.output.split())


def test_malformed_attempt_json(tmp_path: Path) -> None:
    args = write(tmp_path, ATTEMPT, [])
    (tmp_path / "attempt.json").write_text('{\n "pack": "CN",\n oops\n}', encoding="utf-8")
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    assert "attempt.json:3: malformed JSON" in " ".join(result.output.split())


def test_bad_event_fields(tmp_path: Path) -> None:
    events = [
        {"event": "opt_out", "at": "2026-11-20T10:00:00+08:00"},
        {"event": "consent", "at": "2026-11-20T10:00:00+08:00", "window": {"start": "22h"}},
        {"event": "teleport", "at": "2026-11-20T10:00:00+08:00"},
    ]
    result = runner.invoke(cli, write(tmp_path, ATTEMPT, events))
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "history.jsonl:1 [channel]: an opt_out names a channel" in text
    assert "history.jsonl:2 [window.start]: '22h' is not a time" in text
    assert "history.jsonl:2 [window.end]: missing" in text
    assert "history.jsonl:3 [event]: 'teleport' is not one of" in text

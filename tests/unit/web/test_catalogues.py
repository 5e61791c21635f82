"""Every message of the web app is translated into zh-CN, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
WEB = ROOT / "src" / "arrears" / "web"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def _messages() -> set[str]:
    found: set[str] = set()
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(WEB), method_map, options, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _catalogue(locale: str) -> dict[str, object]:
    with (WEB / "locale" / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        cat = read_po(f, locale=locale)
    return {(m.id[0] if isinstance(m.id, tuple) else m.id): m.string for m in cat if m.id}


def test_every_message_has_a_chinese_translation() -> None:
    messages = _messages()
    assert len(messages) > 100
    zh = _catalogue("zh_CN")
    missing = sorted(m for m in messages if not zh.get(m) or zh[m] == ("",))
    assert missing == [], "run scripts/i18n and translate: " + "; ".join(missing[:20])


def test_placeholders_survive_translation() -> None:
    zh = _catalogue("zh_CN")
    for msgid, msgstr in zh.items():
        strings = msgstr if isinstance(msgstr, tuple) else (msgstr,)
        for s in strings:
            assert sorted(re.findall(r"%\(\w+\)\w", msgid)) == sorted(
                re.findall(r"%\(\w+\)\w", str(s))
            ), msgid

"""Fill zh_CN translations from JSON files ({msgid: translation}; plurals: [translation]).

    uv run python scripts/i18n_fill.py FILE.json [FILE.json ...]

Run scripts/i18n first so the catalogue holds the new messages; prints what is still missing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parents[1] / "src/arrears/web/locale/zh_CN/LC_MESSAGES/messages.po"


def main(paths: list[str]) -> None:
    given: dict[str, str | list[str]] = {}
    for p in paths:
        given.update(json.loads(Path(p).read_text(encoding="utf-8")))
    with PO.open("rb") as f:
        cat = read_po(f, locale="zh_CN")
    missing = []
    for m in cat:
        if not m.id:
            continue
        key = m.id[0] if isinstance(m.id, tuple) else m.id
        if key in given:
            v = given[key]
            m.string = tuple(v) if isinstance(m.id, tuple) else (v if isinstance(v, str) else v[0])
        elif not m.string or m.string == ("",):
            missing.append(key)
    with PO.open("wb") as f:
        write_po(f, cat, sort_output=True, width=100)
    print(f"{len(missing)} message(s) without a zh_CN translation" + "".join(f"\n  {k}" for k in missing))


if __name__ == "__main__":
    main(sys.argv[1:])

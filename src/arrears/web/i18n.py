"""Languages of the web app: zh-CN and English catalogues (Babel) and locale-aware formats.

Catalogues are the ``.po`` files under ``web/locale``; they are compiled in memory at start
(no binary ``.mo`` in the repository). Templates get ``_`` bound to the request's language.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations

__all__ = ["LOCALES", "Lang", "catalogue", "lang_for"]

LOCALES = ("zh_CN", "en")
LOCALE_DIR = Path(__file__).parent / "locale"


@cache
def catalogue(locale: str) -> Translations:
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        cat = read_po(f, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, cat)
    buf.seek(0)
    return Translations(buf)


@dataclass(frozen=True)
class Lang:
    """One request's language: translations and formats."""

    locale: str
    zone: ZoneInfo

    @property
    def tag(self) -> str:
        return self.locale.replace("_", "-")

    def gettext(self, message: str) -> str:
        return catalogue(self.locale).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return catalogue(self.locale).ngettext(singular, plural, n)

    def money(self, minor: int | None, currency: str = "CNY") -> str:
        if not isinstance(minor, int):
            return ""
        return format_currency(Decimal(minor) / 100, currency, locale=self.locale)

    def number(self, value: int | float | Decimal | None, digits: int = 0) -> str:
        if value is None:
            return ""
        fmt = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=fmt, locale=self.locale)

    def percent(self, value: float | None, digits: int = 1) -> str:
        if value is None:
            return ""
        return self.number(value * 100, digits) + "%"

    def date(self, value: date | None) -> str:
        return format_date(value, format="medium", locale=self.locale) if value else ""

    def datetime(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return format_datetime(value, format="medium", tzinfo=self.zone, locale=self.locale)

    def language_name(self, locale: str) -> str:
        return str(Locale.parse(locale).get_display_name(locale))


def lang_for(locale: str | None, default: str, zone: str) -> Lang:
    chosen = locale if locale in LOCALES else default
    return Lang(chosen, ZoneInfo(zone))

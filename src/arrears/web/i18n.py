"""Languages of the web app: zh-CN and English catalogues (Babel) and locale-aware formats.

Catalogues are the ``.po`` files under ``web/locale``; they are compiled in memory at start
(no binary ``.mo`` in the repository). Templates get ``_`` bound to the request's language.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, get_datetime_format, get_time_format
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, get_currency_precision
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
        return _money_format(self.locale, currency)(minor)

    def number(self, value: int | float | Decimal | None, digits: int = 0) -> str:
        if value is None:
            return ""
        return _number(value, digits, self.locale)

    def percent(self, value: float | None, digits: int = 1) -> str:
        if value is None:
            return ""
        return self.number(value * 100, digits) + "%"

    def date(self, value: date | None) -> str:
        return _date(value, self.locale) if value else ""

    def datetime(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return _datetime(value, self.zone, self.locale)

    def language_name(self, locale: str) -> str:
        return _language_name(locale)


# Formatting is Babel's; what is slow in it (parsing the locale and the pattern on every
# call, ~0.15 ms) is done once per locale and currency, or cached per value. A page such as
# the account view formats a few hundred amounts and dates.


@cache
def _language_name(locale: str) -> str:
    return str(Locale.parse(locale).get_display_name(locale))


@cache
def _locale(locale: str) -> Locale:
    return Locale.parse(locale)


@cache
def _money_format(locale: str, currency: str) -> Callable[[int], str]:
    """A formatter of minor units equal to ``format_currency(minor / 10**digits, currency)``.

    Babel formats one sample per sign; the number inside it is replaced by the amount with the
    locale's grouping and decimal symbols (standard currency patterns group by threes; the
    unit tests compare against ``format_currency`` over many amounts).
    """
    loc = _locale(locale)
    digits = get_currency_precision(currency)
    sample = Decimal(1234567) + (Decimal(89) / 100 if digits >= 2 else Decimal(0))
    shown = f"{sample:,.{digits}f}"
    symbols = loc.number_symbols.get("latn", loc.number_symbols)
    group, decimal = symbols["group"], symbols["decimal"]
    local = shown.replace(",", "\x00").replace(".", decimal).replace("\x00", group)
    positive = format_currency(sample, currency, locale=loc)
    negative = format_currency(-sample, currency, locale=loc)
    if local not in positive or local not in negative:  # an unusual pattern: Babel each time
        return lambda minor: format_currency(Decimal(minor).scaleb(-digits), currency, locale=loc)
    pos_head, pos_tail = positive.split(local, 1)
    neg_head, neg_tail = negative.split(local, 1)

    scale = 10**digits

    def fmt(minor: int) -> str:
        # Integer arithmetic (no Decimal): whole units grouped by threes, then the fraction.
        whole, frac = divmod(abs(minor), scale)
        text = f"{whole:,}".replace(",", group)
        if digits:
            text = f"{text}{decimal}{frac:0{digits}d}"
        return (neg_head + text + neg_tail) if minor < 0 else (pos_head + text + pos_tail)

    return fmt


@lru_cache(maxsize=8192)
def _number(value: int | float | Decimal, digits: int, locale: str) -> str:
    fmt = "#,##0" + ("." + "0" * digits if digits else "")
    return str(format_decimal(value, format=fmt, locale=_locale(locale)))


@lru_cache(maxsize=8192)
def _date(value: date, locale: str) -> str:
    return str(format_date(value, format="medium", locale=_locale(locale)))


def _datetime(value: datetime, zone: ZoneInfo, locale: str) -> str:
    """``format_datetime(value, "medium", tzinfo=zone)``: the date part cached per day, the
    time part from the locale's pattern (Babel's own call cost ~40 µs, and instants rarely
    repeat: a work queue page formats 50 different ones)."""
    time_of = _time_formatter(locale)
    if time_of is None:
        return str(format_datetime(value, format="medium", tzinfo=zone, locale=_locale(locale)))
    local = value.astimezone(zone)
    return (
        _datetime_pattern(locale)
        .replace("{0}", time_of(local.hour, local.minute, local.second))
        .replace("{1}", _date(local.date(), locale))
    )


@cache
def _datetime_pattern(locale: str) -> str:
    return str(get_datetime_format("medium", locale=_locale(locale))).replace("'", "")


_TIME_FIELD = re.compile(r"%\((\w+)\)s")


@cache
def _time_formatter(locale: str) -> Callable[[int, int, int], str] | None:
    """The locale's medium time pattern as a function of (hour, minute, second), or None when
    the pattern has fields other than hours, minutes, seconds and am/pm (Babel then)."""
    loc = _locale(locale)
    pattern = get_time_format("medium", locale=loc)
    template = str(pattern.format)  # "%(h)s:%(mm)s:%(ss)s …"
    fields = set(_TIME_FIELD.findall(template))
    if not fields <= {"H", "HH", "h", "hh", "mm", "ss", "a"}:
        return None
    periods = loc.day_periods["format"]["abbreviated"]
    am, pm = str(periods["am"]), str(periods["pm"])

    def fmt(hour: int, minute: int, second: int) -> str:
        h12 = hour % 12 or 12
        return template % {
            "H": hour,
            "HH": f"{hour:02d}",
            "h": h12,
            "hh": f"{h12:02d}",
            "mm": f"{minute:02d}",
            "ss": f"{second:02d}",
            "a": pm if hour >= 12 else am,
        }

    return fmt


def lang_for(locale: str | None, default: str, zone: str) -> Lang:
    chosen = locale if locale in LOCALES else default
    return Lang(chosen, ZoneInfo(zone))

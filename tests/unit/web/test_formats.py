"""The cached formatters agree with Babel's own, amount by amount."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, get_currency_precision
from hypothesis import given
from hypothesis import strategies as st

from arrears.web.i18n import LOCALES, lang_for

CURRENCIES = ("CNY", "USD", "EUR", "JPY", "HKD")


@given(
    minor=st.integers(min_value=-(10**15), max_value=10**15),
    locale=st.sampled_from(LOCALES),
    currency=st.sampled_from(CURRENCIES),
)
def test_money_is_babels_format_currency(minor: int, locale: str, currency: str) -> None:
    lang = lang_for(locale, "zh_CN", "Asia/Shanghai")
    amount = Decimal(minor).scaleb(-get_currency_precision(currency))
    assert lang.money(minor, currency) == format_currency(amount, currency, locale=locale)


def test_money_examples() -> None:
    assert lang_for("zh_CN", "zh_CN", "Asia/Shanghai").money(123456) == "¥1,234.56"
    assert lang_for("en", "zh_CN", "Asia/Shanghai").money(-5, "USD") == "-$0.05"
    assert lang_for("en", "zh_CN", "Asia/Shanghai").money(None) == ""


@given(
    day=st.dates(min_value=date(1970, 1, 1), max_value=date(2199, 12, 31)),
    locale=st.sampled_from(LOCALES),
)
def test_dates_are_babels(day: date, locale: str) -> None:
    lang = lang_for(locale, "zh_CN", "Asia/Shanghai")
    assert lang.date(day) == format_date(day, format="medium", locale=locale)
    at = datetime(day.year, day.month, day.day, 15, 4, 5, tzinfo=UTC)
    assert lang.datetime(at) == format_datetime(
        at, format="medium", tzinfo=lang.zone, locale=locale
    )


@given(
    at=st.datetimes(
        min_value=datetime(1970, 1, 2),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(2199, 12, 30),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    locale=st.sampled_from(LOCALES),
    zone=st.sampled_from(("Asia/Shanghai", "America/New_York", "UTC", "Asia/Kolkata")),
)
def test_instants_are_babels_in_every_zone(at: datetime, locale: str, zone: str) -> None:
    # The date and the time of day are formatted apart (the date cached); every hour,
    # minute and second, am and pm, and zones with daylight saving agree with Babel's call.
    lang = lang_for(locale, "zh_CN", zone)
    assert lang.datetime(at) == format_datetime(
        at, format="medium", tzinfo=lang.zone, locale=locale
    )


def test_instant_examples() -> None:
    at = datetime(2026, 11, 29, 4, 5, 6, tzinfo=UTC)  # 12:05:06 in Shanghai: pm
    assert lang_for("en", "zh_CN", "Asia/Shanghai").datetime(at) == "Nov 29, 2026, 12:05:06\u202fPM"
    assert lang_for("zh_CN", "zh_CN", "Asia/Shanghai").datetime(at) == "2026年11月29日 12:05:06"
    midnight = datetime(2026, 11, 28, 16, 0, 0, tzinfo=UTC)  # 00:00 in Shanghai: 12 am
    assert lang_for("en", "zh_CN", "Asia/Shanghai").datetime(midnight).endswith("12:00:00\u202fAM")

"""The desk's tables rendered in Python escape every value like the templates did."""

from __future__ import annotations

from datetime import UTC, date, datetime

from markupsafe import escape

from arrears.services.desk import QueueRow
from arrears.web.i18n import lang_for
from arrears.web.rows import payment_rows, queue_rows, schedule_rows

LANG = lang_for("en", "zh_CN", "Asia/Shanghai")
HOSTILE = "<script>alert('x')</script> & \"co\""


def test_queue_rows_escape_names_cities_and_ids() -> None:
    row = QueueRow(
        borrower_id="B1/<x>",
        name=HOSTILE,
        city=HOSTILE,
        loans=2,
        dpd=31,
        bucket="M2",
        total_due_minor=123456,
        last_contact_at=datetime(2026, 11, 28, 2, 0, tzinfo=UTC),
        next_action_on=date(2026, 12, 1),
    )
    html = str(queue_rows([row], LANG))
    assert "<script>" not in html and "'x'" not in html
    assert html.count(str(escape(HOSTILE))) == 2
    assert 'href="/accounts/B1/%3Cx%3E"' in html and ">B1/&lt;x&gt;</a>" in html
    assert '<tr data-dpd="31">' in html and "CN¥1,234.56" in html
    assert "Nov 28, 2026, 10:00:00\u202fAM" in html and "Dec 1, 2026" in html


def test_missing_values_are_empty_cells() -> None:
    row = QueueRow("B2", None, None, 1, 0, "M0", 0, None, None)
    html = str(queue_rows([row], LANG))
    assert "<td></td><td></td>" in html and "None" not in html


def test_schedule_and_payment_rows_escape_labels_and_references() -> None:
    schedule = schedule_rows(
        [
            {
                "seq": 1,
                "due_date": date(2026, 1, 5),
                "principal_minor": 100,
                "interest_minor": 5,
                "amount_minor": 105,
                "paid_minor": 0,
                "state": "overdue",
            }
        ],
        "CNY",
        LANG,
        {"overdue": HOSTILE},
    )
    assert '<tr class="st-overdue">' in schedule and str(escape(HOSTILE)) in schedule
    payments = payment_rows(
        [
            {
                "paid_at": datetime(2026, 1, 5, tzinfo=UTC),
                "loan_id": "L1",
                "amount_minor": 105,
                "channel": None,
                "payment_id": HOSTILE,
            }
        ],
        LANG,
    )
    assert "<script>" not in payments and str(escape(HOSTILE)) in payments

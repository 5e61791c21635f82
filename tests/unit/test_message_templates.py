"""Every message template the default strategy names exists in zh_CN and en and passes the
check (required elements, CN-X1); the check catches what is missing."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from arrears.services.message_templates import TEMPLATES, check_template, render_message


def _strategy_templates() -> set[str]:
    text = resources.files("arrears.strategies").joinpath("default_cn.yaml").read_text("utf-8")
    return {t for t in re.findall(r"template: (\w+)", text) if t.startswith(("sms_", "email_"))}


@pytest.mark.parametrize("name", sorted(_strategy_templates()))
def test_named_templates_exist_and_pass(name: str) -> None:
    for locale in ("zh_CN", "en"):
        _, body = TEMPLATES[(name, locale)]
        assert check_template(name.split("_")[0], body) == []
        out = render_message(
            name,
            locale,
            {
                "name": "张伟",
                "lender": "L",
                "amount": "¥1.00",
                "due_date": "2026-12-01",
                "days": 3,
                "pay_how": "P",
                "object_how": "O",
                "opt_out": "",
            },
        )
        assert "L" in out.body and "¥1.00" in out.body and "{{" not in out.body


def test_the_check_names_what_is_missing() -> None:
    issues = check_template("sms", "{{ lender }}: pay {{ amount }} or we will 弄死你", "US")
    reasons = {i.column: i.reason for i in issues}
    assert set(reasons) == {"pay_how", "opt_out", "text"}
    assert "CN-X1" in reasons["text"] and "US-E1" in reasons["opt_out"]


def test_a_letter_template_is_checked_for_cn_r2() -> None:
    issues = check_template("letter", "<p>{{ name }} owes {{ amount_owed }}</p>")
    assert issues and any("how to object" in i.reason for i in issues)


def test_email_templates_carry_a_subject_and_pass() -> None:
    values = {
        "name": "张伟",
        "lender": "L",
        "amount": "¥9.00",
        "due_date": "",
        "days": 5,
        "pay_how": "P",
        "object_how": "O",
        "opt_out": "Unsubscribe: reply STOP",
    }
    for locale in ("zh_CN", "en"):
        _, body = TEMPLATES[("email_overdue", locale)]
        assert check_template("email", body, "US") == []
        out = render_message("email_overdue", locale, values)
        assert out.subject and "L" in out.subject
        assert "\n" in out.body and "¥9.00" in out.body and "Unsubscribe" in out.body

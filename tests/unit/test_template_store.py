"""What stops a template being saved (``template_store.check``) and the preview's samples."""

from __future__ import annotations

import pytest

from arrears.adapters.channels.letters import letter_template
from arrears.domain.errors import Issue
from arrears.services import template_store as ts
from arrears.services.message_templates import TEMPLATES, render_message


def _columns(
    name: str, locale: str, body: str, subject: str | None = None, pack: str = "CN"
) -> tuple[set[str | None], list[Issue]]:
    issues, _, _ = ts.check(name, locale, body, subject, pack)
    return {i.column for i in issues}, issues


@pytest.mark.parametrize(("name", "locale"), sorted(TEMPLATES))
def test_every_shipped_template_passes_under_both_packs(name: str, locale: str) -> None:
    subject, body = TEMPLATES[(name, locale)]
    for pack in ("CN", "US"):
        issues, rendered, html = ts.check(name, locale, body, subject, pack)
        assert issues == [] and rendered is not None and not html


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_the_shipped_letters_pass(locale: str) -> None:
    issues, rendered, html = ts.check("letter_demand", locale, letter_template(locale))
    assert issues == [] and rendered is not None and html


@pytest.mark.parametrize("element", ["lender", "amount", "pay_how"])
def test_a_missing_required_element_is_named(element: str) -> None:
    _, body = TEMPLATES[("sms_due_today", "zh_CN")]
    columns, issues = _columns("sms_due_today", "zh_CN", body.replace("{{ " + element + " }}", ""))
    assert columns == {element}
    assert "{{ " + element + " }}" in issues[0].reason


def test_email_needs_object_how_and_a_subject() -> None:
    subject, body = TEMPLATES[("email_overdue", "en")]
    columns, _ = _columns("email_overdue", "en", body.replace("{{ object_how }}", "us"), subject)
    assert columns == {"object_how"}
    columns, _ = _columns("email_overdue", "en", body, "  ")
    assert columns == {"subject"}


def test_us_pack_needs_an_opt_out_in_electronic_messages() -> None:
    subject, body = TEMPLATES[("email_overdue", "en")]
    without = body.replace("{{ opt_out }}", "")
    assert _columns("email_overdue", "en", without, subject, "CN")[0] == set()
    columns, issues = _columns("email_overdue", "en", without, subject, "US")
    assert columns == {"opt_out"} and "US-E1" in issues[0].reason
    sms = TEMPLATES[("sms_due_today", "en")][1].replace("{{ opt_out }}", "")
    assert _columns("sms_due_today", "en", sms, pack="us")[0] == {"opt_out"}


@pytest.mark.parametrize(
    ("extra", "term"),
    [("后果自负", "后果自负"), ("老赖", "老赖"), ("we will call the Police", "police")],
)
def test_cn_x1_terms_are_refused(extra: str, term: str) -> None:
    _, body = TEMPLATES[("sms_overdue_d1", "zh_CN")]
    columns, issues = _columns("sms_overdue_d1", "zh_CN", body + extra)
    assert columns == {"text"}
    assert len(issues) == 1 and "CN-X1" in issues[0].reason and term in issues[0].reason


def test_cn_x1_catches_text_assembled_in_the_template_and_the_subject() -> None:
    _, body = TEMPLATES[("sms_overdue_d1", "zh_CN")]
    columns, issues = _columns("sms_overdue_d1", "zh_CN", body + "{{ '弄' ~ '死' }}")
    assert columns == {"text"} and "弄死" in issues[0].reason
    subject, body = TEMPLATES[("email_overdue", "zh_CN")]
    columns, _ = _columns("email_overdue", "zh_CN", body, "法院通知：" + (subject or ""))
    assert columns == {"subject"}


def test_a_syntax_error_names_its_line() -> None:
    _, body = TEMPLATES[("sms_due_today", "en")]
    _, issues = _columns("sms_due_today", "en", body + "\n\n{{ amount | }}")
    assert [(i.column, i.line) for i in issues] == [("body", 3)]
    assert issues[0].reason.startswith("line 3:")


def test_unknown_variables_are_refused_and_the_known_ones_listed() -> None:
    _, body = TEMPLATES[("sms_due_today", "en")]
    _, issues = _columns("sms_due_today", "en", body + " {{ id_number }} {{ phone }}")
    assert len(issues) == 1
    assert "id_number, phone" in issues[0].reason and "pay_how" in issues[0].reason
    # a variable set in the template itself is not unknown
    assert _columns("sms_due_today", "en", "{% set x = 1 %}{{ x }}" + body)[0] == set()


def test_sandbox_escapes_do_not_render() -> None:
    _, body = TEMPLATES[("sms_due_today", "en")]
    columns, issues = _columns(
        "sms_due_today", "en", body + " {{ lender.__class__.__mro__[1].__subclasses__() }}"
    )
    assert columns == {"body"} and "does not render" in issues[0].reason


def test_letters_are_checked_for_cn_r2() -> None:
    source = letter_template("en").replace("{{ seal }}", "").replace("{{ how_to_check }}", "")
    columns, issues = _columns("letter_demand", "en", source)
    assert columns == {"seal", "how_to_check"}
    assert all("CN-R2" in i.reason for i in issues)
    columns, _ = _columns("letter_demand", "en", letter_template("en") + "<p>骗子</p>")
    assert columns == {"text"}


@pytest.mark.parametrize(
    "name", ["reminder", "SMS_x", "push_x", "sms_", "sms_a-b", "sms_" + "a" * 60]
)
def test_the_name_says_the_channel(name: str) -> None:
    assert ts.channel_of(name) is None
    assert _columns(name, "en", "{{ lender }}")[0] == {"name"}


def test_the_locale_must_be_known() -> None:
    assert _columns("sms_due_today", "fr", "{{ lender }}")[0] == {"locale"}


def test_the_preview_uses_a_masked_name_and_the_language_s_amount() -> None:
    _, body = TEMPLATES[("sms_overdue_d1", "zh_CN")]
    shown = ts.preview("sms_overdue_d1", "zh_CN", body)
    assert shown.issues == [] and shown.body.startswith("【示例消费金融】张*您好")
    assert "¥1,234.56" in shown.body
    _, body = TEMPLATES[("sms_overdue_d1", "en")]
    shown = ts.preview("sms_overdue_d1", "en", body)
    assert "A**** S****" in shown.body and "CN¥1,234.56" in shown.body
    letter = ts.preview("letter_demand", "zh_CN", letter_template("zh_CN"))
    assert letter.html and "<" not in letter.body and "张*" in letter.body


def test_render_message_prefers_a_stored_version_then_falls_back() -> None:
    values = ts.sample_values("zh_CN")
    stored = {("sms_due_today", "zh_CN"): (None, "新 {{ lender }} {{ amount }} {{ pay_how }}")}
    assert render_message("sms_due_today", "zh_CN", values, stored).body.startswith("新 ")
    default = render_message("sms_due_today", "zh_CN", values)
    assert render_message("sms_due_today", "zh_CN", values, {}).body == default.body
    # a stored zh_CN version does not change the English one
    assert render_message("sms_due_today", "en", values, stored).body.startswith("[")

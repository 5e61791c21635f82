"""Message templates (Jinja2, sandboxed) per template name and language, and the check a
template must pass: the required elements of its channel and CN-X1 content screening.

Every template exists in zh_CN and en. Variables: ``name`` (the borrower's), ``lender``,
``amount`` (formatted), ``due_date``, ``days`` (past due), ``pay_how``, ``object_how``,
``opt_out`` (US electronic messages).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from arrears.domain.compliance import DEFAULT_LEXICON, screen_text
from arrears.domain.compliance.lexicon import X1_CATEGORIES
from arrears.domain.errors import Issue, ValidationError

__all__ = ["TEMPLATES", "Rendered", "check_template", "render_message"]

_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)

# Elements a collection message must carry, by channel (as template variables).
REQUIRED = {
    "sms": ("lender", "amount", "pay_how"),
    "email": ("lender", "amount", "pay_how", "object_how"),
}
OPT_OUT_PACKS = frozenset({"US"})  # US-E1: every email and text carries an opt-out

_PAY = "{{ pay_how }}"
TEMPLATES: dict[tuple[str, str], tuple[str | None, str]] = {
    ("sms_pre_due_d3", "zh_CN"): (
        None,
        "【{{ lender }}】{{ name }}您好，您的借款将于{{ due_date }}到期，应还{{ amount }}。"
        "还款方式：" + _PAY + "。{{ opt_out }}",
    ),
    ("sms_pre_due_d3", "en"): (
        None,
        "[{{ lender }}] Dear {{ name }}, {{ amount }} is due on {{ due_date }}. "
        "To pay: " + _PAY + ". {{ opt_out }}",
    ),
    ("sms_due_today", "zh_CN"): (
        None,
        "【{{ lender }}】{{ name }}您好，今天是您的还款日，应还{{ amount }}。还款方式："
        + _PAY
        + "。{{ opt_out }}",
    ),
    ("sms_due_today", "en"): (
        None,
        "[{{ lender }}] Dear {{ name }}, {{ amount }} is due today. To pay: "
        + _PAY
        + ". {{ opt_out }}",
    ),
    ("sms_overdue_d1", "zh_CN"): (
        None,
        "【{{ lender }}】{{ name }}您好，您的借款已逾期{{ days }}天，当前应还{{ amount }}。"
        "请尽快还款：" + _PAY + "。如有异议请联系：{{ object_how }}。{{ opt_out }}",
    ),
    ("sms_overdue_d1", "en"): (
        None,
        "[{{ lender }}] Dear {{ name }}, your loan is {{ days }} days past due; {{ amount }} is "
        "due now. To pay: " + _PAY + ". To dispute: {{ object_how }}. {{ opt_out }}",
    ),
    ("sms_overdue_reminder", "zh_CN"): (
        None,
        "【{{ lender }}】{{ name }}您好，您仍有{{ amount }}未还，请尽快还款：" + _PAY + "。"
        "如遇困难可联系我们商量还款计划：{{ object_how }}。{{ opt_out }}",
    ),
    ("sms_overdue_reminder", "en"): (
        None,
        "[{{ lender }}] Dear {{ name }}, {{ amount }} is still unpaid. To pay: " + _PAY + ". "
        "If you are in difficulty, talk to us about a plan: {{ object_how }}. {{ opt_out }}",
    ),
    ("sms_broken_promise", "zh_CN"): (
        None,
        "【{{ lender }}】{{ name }}您好，您承诺的还款尚未到账，当前应还{{ amount }}。"
        "还款方式：" + _PAY + "。{{ opt_out }}",
    ),
    ("sms_broken_promise", "en"): (
        None,
        "[{{ lender }}] Dear {{ name }}, the payment you promised has not arrived; "
        "{{ amount }} is due. To pay: " + _PAY + ". {{ opt_out }}",
    ),
    ("sms_promise_reminder", "zh_CN"): (
        None,
        "【{{ lender }}】{{ name }}您好，感谢您承诺于{{ due_date }}还款，届时应还{{ amount }}。"
        "还款方式：" + _PAY + "。{{ opt_out }}",
    ),
    ("sms_promise_reminder", "en"): (
        None,
        "[{{ lender }}] Dear {{ name }}, thank you for your promise to pay {{ amount }} on "
        "{{ due_date }}. To pay: " + _PAY + ". {{ opt_out }}",
    ),
    ("email_overdue", "zh_CN"): (
        "【{{ lender }}】还款提醒：您的借款已逾期",
        "{{ name }}您好：\n\n您在{{ lender }}的借款已逾期{{ days }}天，当前应还{{ amount }}。"
        "\n还款方式：" + _PAY + "。\n如对欠款有异议，或需要商量还款计划，请联系：{{ object_how }}。"
        "\n\n{{ lender }}\n{{ opt_out }}",
    ),
    ("email_overdue", "en"): (
        "[{{ lender }}] Your loan is past due",
        "Dear {{ name }},\n\nYour loan with {{ lender }} is {{ days }} days past due; "
        "{{ amount }} is due now.\nTo pay: " + _PAY + ".\nTo dispute the amount or discuss a "
        "repayment plan: {{ object_how }}.\n\n{{ lender }}\n{{ opt_out }}",
    ),
}


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str | None
    body: str


def check_template(channel: str, body: str, pack: str = "CN") -> list[Issue]:
    """What is wrong with a template (empty: fine): missing required elements, a missing
    opt-out where the pack demands one, and CN-X1 lexicon hits. Letters: the CN-R2 check
    (``services.letters.check_letter_template``)."""
    if channel == "letter":
        from arrears.services.letters import check_letter_template

        return check_letter_template(body)
    issues = [
        Issue("template", None, element, f"a {channel} message must contain {{{{ {element} }}}}")
        for element in REQUIRED.get(channel, ())
        if "{{ " + element + " }}" not in body
    ]
    if pack.upper() in OPT_OUT_PACKS and "{{ opt_out }}" not in body:
        issues.append(Issue("template", None, "opt_out", "US-E1: an opt-out is required"))
    issues.extend(
        Issue("template", None, "text", f"CN-X1: prohibited language ({h.category}: {h.term})")
        for h in screen_text(body, DEFAULT_LEXICON)
        if h.category in X1_CATEGORIES
    )
    return issues


def render_message(
    template: str,
    locale: str,
    values: dict[str, Any],
    stored: Mapping[tuple[str, str], tuple[str | None, str]] | None = None,
) -> Rendered:
    """The message of ``template`` in ``locale`` (zh_CN or en); ValidationError if unknown.
    ``stored``: versions saved in the app (``services.template_store``), used before the code
    defaults."""
    saved = stored or {}
    found = (
        saved.get((template, locale))
        or TEMPLATES.get((template, locale))
        or saved.get((template, "en"))
        or TEMPLATES.get((template, "en"))
    )
    if found is None:
        raise ValidationError([Issue("template", None, template, "no such message template")])
    subject, body = found
    text = _ENV.from_string(body).render(**values).strip()
    return Rendered(
        None if subject is None else _ENV.from_string(subject).render(**values).strip(),
        " ".join(text.split()) if template.startswith("sms_") else text,
    )

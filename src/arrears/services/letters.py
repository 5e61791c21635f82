"""Collection letters (CN-R2): the check a letter template must pass when it is saved, and
composing one letter as a PDF.

- ``check_letter_template(source)``: every CN-R2 element is a variable of the template
  (name, amount owed, reason and legal basis, rights and duties, how to check the account,
  how to object, the lender's contact, the seal placeholder), the template parses, and its
  fixed text passes CN-X1 screening. Each problem names the missing element.
- ``compose_letter(letter)``: the letter's values pass ``domain.compliance.check_letter``,
  the rendered text passes CN-X1 screening, then HTML → PDF.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, get_currency_precision
from jinja2 import TemplateSyntaxError

from arrears.adapters.channels import letters as render
from arrears.domain.compliance import DEFAULT_LEXICON, check_letter, screen_text
from arrears.domain.compliance.lexicon import X1_CATEGORIES
from arrears.domain.errors import Issue, ValidationError

__all__ = [
    "LETTER_ELEMENTS",
    "CollectionLetter",
    "Letter",
    "check_letter_template",
    "compose_letter",
]

# The CN-R2 element each template variable stands for (what an error message names).
LETTER_ELEMENTS = {
    "name": "the borrower's name",
    "amount_owed": "the amount owed",
    "reason_and_legal_basis": "the reason and legal basis",
    "rights_and_duties": "the borrower's rights and duties",
    "how_to_check": "how to check the account",
    "how_to_object": "how to object",
    "lender_contact": "the lender's contact",
    "seal": "the seal placeholder",
}

_SEAL = {"zh_CN": "（盖章处）", "en": "(seal)"}


@dataclass(frozen=True, slots=True)
class CollectionLetter:
    locale: str  # zh_CN | en
    reference: str
    letter_date: date
    as_of: date
    borrower_name: str
    amount_owed_minor: int
    currency: str
    reason_and_legal_basis: str
    rights_and_duties: str
    how_to_check: str
    how_to_object: str
    lender_name: str
    lender_contact: str


@dataclass(frozen=True, slots=True)
class Letter:
    html: str
    pdf: bytes
    amount_owed: str  # as printed


def _issue(column: str, reason: str) -> Issue:
    return Issue("letter template", None, column, reason)


def _screen(text: str, where: str) -> list[Issue]:
    return [
        _issue(where, f"CN-X1: prohibited language ({h.category}: {h.term!r})")
        for h in screen_text(text, DEFAULT_LEXICON)
        if h.category in X1_CATEGORIES
    ]


def check_letter_template(source: str) -> list[Issue]:
    """What is wrong with a letter template (empty: it may be saved)."""
    try:
        used = render.template_variables(source)
    except TemplateSyntaxError as exc:
        return [_issue("syntax", f"line {exc.lineno}: {exc.message}")]
    issues = [
        _issue(var, f"CN-R2: a collection letter must contain {label} ({{{{ {var} }}}})")
        for var, label in LETTER_ELEMENTS.items()
        if var not in used
    ]
    fixed_text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", " ", source, flags=re.S)
    return issues + _screen(fixed_text, "text")


def _amount(minor: int, currency: str, locale: str) -> tuple[str, str]:
    digits = get_currency_precision(currency)
    value = Decimal(minor).scaleb(-digits)
    return str(value), format_currency(value, currency, locale=locale)


def compose_letter(
    letter: CollectionLetter, source: str | None = None, with_pdf: bool = True
) -> Letter:
    """The letter as HTML and PDF; ValidationError naming every missing CN-R2 element or
    CN-X1 hit (nothing is rendered then)."""
    if letter.locale not in render.LETTER_LOCALES:
        raise ValidationError([_issue("locale", f"no letter template for {letter.locale!r}")])
    source = source if source is not None else render.letter_template(letter.locale)
    issues = check_letter_template(source)
    plain, printed = _amount(letter.amount_owed_minor, letter.currency, letter.locale)
    values = {
        "name": letter.borrower_name,
        "amount_owed": printed,
        "reason_and_legal_basis": letter.reason_and_legal_basis,
        "rights_and_duties": letter.rights_and_duties,
        "how_to_check": letter.how_to_check,
        "how_to_object": letter.how_to_object,
        "lender_contact": letter.lender_contact,
        "seal": _SEAL[letter.locale],
    }
    issues += [
        _issue(missing.split(" ")[0], f"CN-R2: the letter has no {missing}")
        for missing in check_letter({**values, "amount_owed": plain})
    ]
    for var, text in values.items():
        issues += _screen(text, var)
    if issues:
        raise ValidationError(issues)
    html = render.render_letter_html(
        source,
        values
        | {
            "lender_name": letter.lender_name,
            "reference": letter.reference,
            "letter_date": format_date(letter.letter_date, "long", locale=letter.locale),
            "as_of": format_date(letter.as_of, "long", locale=letter.locale),
        },
    )
    return Letter(html, render.render_pdf(html) if with_pdf else b"", printed)


# What the shipped letters say besides the account's figures (CN-R2), per language.
LETTER_TEXTS = {
    "zh_CN": {
        "reason_and_legal_basis": "您与本机构签订的借款合同项下的借款已逾期未还。"
        "根据《中华人民共和国民法典》第六百七十四条、第六百七十五条及借款合同约定，"
        "您应按期偿还借款本金、利息及逾期费用。",
        "rights_and_duties": "您有权查询借款明细、对欠款金额提出异议并要求本机构核实，"
        "有权拒绝任何违法催收行为；您有义务按合同约定还款，并在联系方式变更时告知本机构。",
    },
    "en": {
        "reason_and_legal_basis": "The loan under your loan agreement with us is past due. Under "
        "Articles 674 and 675 of the Civil Code of the People's Republic of China and the "
        "agreement, the principal, interest and overdue charges are payable.",
        "rights_and_duties": "You may see the details of your loan, dispute the amount and ask "
        "us to check it, and refuse any unlawful collection practice; you must repay as agreed "
        "and tell us when your contact details change.",
    },
}

"""Repayment-plan agreements (issue 5): real PDFs (WeasyPrint, Noto Sans CJK SC) for plans
built by the domain calculator on loan-math.md's worked loan, read back with pdftotext and
pdffonts; page 1 saved as a PNG under test-artifacts/agreements/.

Loan: ¥100,000.00, 4.35 %, 12 months annuity from 2026-01-31, nothing paid; plan start
D = 2026-03-31 (the snapshot is worked example 2: penalty 44.42, compound 1.97, due now
8577.38, everything owed 102418.29).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from babel.dates import format_date
from babel.numbers import format_currency

from arrears.adapters.channels import letters as letter_render
from arrears.domain.errors import ValidationError
from arrears.domain.loans import LoanTerms
from arrears.domain.negotiation import (
    PlanKind,
    PlanTerms,
    ReinstateRule,
    deferral_plan,
    instalment_plan,
    restructure_plan,
    settlement_plan,
    take_snapshot,
    waiver_of,
)
from arrears.domain.products import ProductSettings, RepaymentMethod
from arrears.domain.schedules import schedule_for
from arrears.services.agreements import (
    Agreement,
    agreement_from_terms,
    agreement_html,
    agreement_pdf,
    check_agreement,
)

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "agreements"

D = Decimal
LOAN = LoanTerms(
    "L1", D("100000.00"), D("0.0435"), 12, date(2026, 1, 31), RepaymentMethod.ANNUITY, "B1"
)
START = date(2026, 3, 31)
SNAP = take_snapshot(LOAN, schedule_for(LOAN), [], START, ProductSettings())

PLANS: dict[PlanKind, PlanTerms] = {
    PlanKind.INSTALMENT: instalment_plan(
        SNAP, 3, waiver=waiver_of(SNAP), reinstate=ReinstateRule.PRO_RATA, grace_days=3
    ),
    PlanKind.DEFERRAL: deferral_plan(SNAP, 2, spread_months=2),
    PlanKind.SETTLEMENT: settlement_plan(SNAP, D("95000.00"), payments=2),
    PlanKind.RESTRUCTURE: restructure_plan(
        SNAP, 24, annual_rate=D("0.0365"), waiver=waiver_of(SNAP, D("0.5"), D("0.5"))
    ),
}

CONTACT = {
    "zh_CN": "客服热线95500，或书面寄至上海市浦东新区示例路1号个贷中心",
    "en": "Hotline 95500, or write to the retail lending centre, 1 Example Road, Shanghai",
}
LENDER = {"zh_CN": "示例银行股份有限公司", "en": "Example Bank Co., Ltd."}

# What each language must say about the borrower's rights.
RIGHTS = {
    "zh_CN": ("借款人的权利", "核实债务", "提出异议", "投诉", "个人信息保护", "不受骚扰催收"),
    "en": (
        "The borrower's rights",
        "To verify the debt",
        "To dispute",
        "To complain",
        "Protection of personal information",
        "Freedom from harassment",
    ),
}

needs_poppler = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("pdftotext", "pdftoppm", "pdffonts")),
    reason="poppler-utils (pdftotext, pdftoppm, pdffonts) not installed",
)


def _agreement(kind: PlanKind, locale: str, **changes: object) -> Agreement:
    made = agreement_from_terms(
        PLANS[kind],
        locale=locale,
        reference="PLAN-12",
        agreement_date=date(2026, 3, 30),
        lender=LENDER[locale],
        lender_contact=CONTACT[locale],
        borrower_name="张三",
        id_number_masked="110101********1234",
        approved_by="李四",
        approved_on=date(2026, 3, 30),
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def _money(x: Decimal, locale: str) -> str:
    return format_currency(x, "CNY", locale=locale)


def _day(d: date, locale: str) -> str:
    return format_date(d, "long", locale=locale)


def _squash(text: str) -> str:
    """Without whitespace: pdftotext breaks lines (and Chinese phrases) where the PDF does."""
    return "".join(text.split())


def _render(agreement: Agreement, tmp_path: Path) -> tuple[str, Path]:
    """(the PDF's text without whitespace, the PDF file)."""
    pdf = agreement_pdf(agreement)
    assert pdf.startswith(b"%PDF")
    path = tmp_path / f"agreement_{agreement.kind}_{agreement.locale}.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, timeout=60
    )
    return _squash(done.stdout.decode("utf-8")), path


def _save_page_1(path: Path) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = ARTIFACTS / path.stem
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(path), str(stem)],
        check=True,
        timeout=60,
    )
    png = stem.with_suffix(".png")
    assert png.stat().st_size > 10_000
    return png


# -- the document, in both languages -----------------------------------------------------------


@needs_poppler
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_agreement_pdf_renders_chinese_text_schedule_and_rights(
    locale: str, tmp_path: Path
) -> None:
    agreement = _agreement(PlanKind.INSTALMENT, locale)
    terms = PLANS[PlanKind.INSTALMENT]
    text, path = _render(agreement, tmp_path)

    assert "张三" in text  # the borrower's name in full, in CJK glyphs
    assert "110101********1234" in text
    assert _squash(LENDER[locale]) in text
    assert _squash(CONTACT[locale]) in text
    # every plan instalment's date and amount as Babel prints them for the locale
    for inst in terms.instalments:
        assert _squash(_day(inst.due_date, locale)) in text
        assert _money(inst.amount, locale) in text
    # worked example: 8577.38 − 46.39 over 3 months, contract installments 3–5 folded in
    assert ("¥11,374.65" if locale == "zh_CN" else "CN¥11,374.65") in text
    for total in (terms.payable, terms.after_plan_total, terms.waiver.total, terms.opening.total):
        assert _money(total, locale) in text
    for words in RIGHTS[locale]:
        assert _squash(words) in text
    assert "12378" in text  # the regulator's complaints hotline
    assert "李四" in text and _squash(_day(date(2026, 3, 30), locale)) in text  # approval

    fonts = subprocess.run(
        ["pdffonts", str(path)], capture_output=True, check=True, timeout=60
    ).stdout.decode()
    cjk = [line for line in fonts.splitlines() if "Noto-Sans-CJK" in line or "NotoSansCJK" in line]
    assert cjk, fonts
    assert all(line.split()[-5] == "yes" for line in cjk), fonts  # the "emb" column
    _save_page_1(path)


# -- each kind says what is particular to it ----------------------------------------------------


# What each kind's agreement must say (zh_CN, en), besides its figures.
KIND_WORDS: dict[PlanKind, list[tuple[str, str]]] = {
    PlanKind.INSTALMENT: [
        ("分期还款计划", "Instalment plan"),
        ("已并入其后最近一期计划分期", "included in the next plan instalment"),
        # pro-rata reinstatement, 3 grace days, back to the original contract on a break
        (
            "按计划终止时借款人已支付的计划款项占计划应还合计的比例保留",
            "in proportion to the plan money paid",
        ),
        ("应还日后 3 日为宽限期", "grace period of 3 day(s)"),
        ("借款恢复按借款合同原约定的还款安排履行", "returns to the repayment arrangements"),
    ],
    PlanKind.DEFERRAL: [
        ("延期还款计划", "Payment deferral"),
        ("各期还款日顺延 2 个月", "deferred by 2 month(s)"),
        ("延期安排失效", "the deferral is cancelled"),
        ("本协议不涉及减免", "contains no waiver"),
    ],
    PlanKind.SETTLEMENT: [
        ("减免结清计划", "Settlement"),
        ("本借款全部结清", "the loan is settled in full"),
        ("减免的全部款项恢复为应还款项", "the whole waiver is owed again"),
    ],
    PlanKind.RESTRUCTURE: [
        ("贷款重组计划", "Loan restructure"),
        ("新借款合同（贷款重组）", "The new loan agreement (restructure)"),
        ("新借款合同继续有效", "the new loan agreement stays in force"),
        ("等额本息", "annuity"),
        ("风险分类不得优于“关注”", 'no better than "Special mention"'),
        ("3.65%", "3.65%"),
    ],
}


@needs_poppler
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
@pytest.mark.parametrize("kind", list(PlanKind), ids=[k.value for k in PlanKind])
def test_each_plan_kind_renders_its_own_part(kind: PlanKind, locale: str, tmp_path: Path) -> None:
    terms = PLANS[kind]
    text, path = _render(_agreement(kind, locale), tmp_path)
    for zh, en in KIND_WORDS[kind]:
        assert _squash(zh if locale == "zh_CN" else en) in text
    for inst in terms.instalments:
        assert _money(inst.amount, locale) in text
    for item in terms.after_plan:
        assert _squash(_day(item.due_date, locale)) in text
    assert _money(terms.opening.total, locale) in text
    assert _money(terms.waiver.total, locale) in text
    if kind is PlanKind.DEFERRAL:
        # installment 6 of the loan (due 2026-07-31) falls due two months later
        assert _squash(_day(date(2026, 9, 30), locale)) in text
    if kind is PlanKind.SETTLEMENT:
        assert terms.waiver.total == terms.opening.total - D("95000.00")
    if kind is PlanKind.RESTRUCTURE:
        r = terms.restructure
        assert r is not None
        assert _money(r.principal, locale) in text
        assert _squash(_day(r.observation_end, locale)) in text
        assert _money(terms.ledger_owed.total, locale) in text  # owed under the old contract
        assert terms.ledger_owed.total != terms.opening.total
    _save_page_1(path)


# -- the agreement's figures, and what is refused ----------------------------------------------


@pytest.mark.parametrize("kind", list(PlanKind), ids=[k.value for k in PlanKind])
def test_agreement_figures_come_from_the_terms(kind: PlanKind) -> None:
    terms = PLANS[kind]
    a = _agreement(kind, "zh_CN")
    assert a.total_payable == terms.payable
    assert a.after_plan_total == terms.after_plan_total
    assert a.total_waived == terms.waiver.total
    assert a.total_payable + a.after_plan_total + a.total_waived == a.owed.total
    assert [(i.due_date, i.amount) for i in a.after_plan] == [
        (i.due_date, i.amount) for i in terms.after_plan
    ]
    assert (a.restructure is not None) == (kind is PlanKind.RESTRUCTURE)
    assert all(isinstance(i.amount, Decimal) for i in a.instalments + a.after_plan)
    assert check_agreement(a) == []


def test_prohibited_language_in_the_lender_contact_is_refused() -> None:
    bad = _agreement(PlanKind.INSTALMENT, "zh_CN", lender_contact="客服热线95500，不还钱就爆通讯录")
    with pytest.raises(ValidationError, match="CN-X1") as caught:
        agreement_pdf(bad)
    assert {i.column for i in caught.value.issues} == {"lender_contact"}
    assert "爆通讯录" in caught.value.issues[0].reason
    english = _agreement(
        PlanKind.SETTLEMENT, "en", lender_contact="Call 95500 or we tell your employer"
    )
    with pytest.raises(ValidationError, match="tell your employer"):
        agreement_html(english)


def test_prohibited_language_in_the_rendered_text_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = letter_render.render_agreement_html

    def tampered(locale: str, values: Mapping[str, object]) -> str:
        return real(locale, values).replace("借款人的权利", "借款人的权利（否则后果自负）")

    monkeypatch.setattr(letter_render, "render_agreement_html", tampered)
    with pytest.raises(ValidationError) as caught:
        agreement_html(_agreement(PlanKind.INSTALMENT, "zh_CN"))
    [issue] = caught.value.issues
    assert issue.column == "text" and "后果自负" in issue.reason


def test_missing_parties_an_unmasked_id_and_a_bad_locale_are_refused() -> None:
    bad = replace(
        _agreement(PlanKind.DEFERRAL, "en"),
        locale="fr",
        lender_contact=" ",
        borrower_name="",
        id_number_masked="110101199003071234",
    )
    with pytest.raises(ValidationError) as caught:
        agreement_pdf(bad)
    assert {i.column for i in caught.value.issues} == {
        "locale",
        "lender_contact",
        "borrower_name",
        "id_number_masked",
    }


def test_figures_that_do_not_reconcile_are_refused() -> None:
    a = _agreement(PlanKind.SETTLEMENT, "en")
    short = replace(a, instalments=a.instalments[:1])
    assert [i.column for i in check_agreement(short)] == ["instalments"]


def test_acceptance_is_a_blank_line_until_recorded() -> None:
    pending = agreement_html(
        _agreement(PlanKind.INSTALMENT, "zh_CN", approved_by=None, approved_on=None)
    )
    assert '签署日期：<span class="blank">' in pending
    assert '审批人：<span class="blank">' in pending
    accepted = agreement_html(
        _agreement(
            PlanKind.INSTALMENT,
            "zh_CN",
            accepted_on=date(2026, 3, 31),
            acceptance_note="手机银行电子签署，流水号 E123",
        )
    )
    assert "签署日期：2026年3月31日" in accepted
    assert "手机银行电子签署，流水号 E123" in accepted


def test_values_are_escaped() -> None:
    html = agreement_html(_agreement(PlanKind.INSTALMENT, "en", borrower_name="<b>张三</b>"))
    assert "&lt;b&gt;张三&lt;/b&gt;" in html and "<b>张三" not in html

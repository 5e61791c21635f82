"""CN-R2 collection letters: the template check, and real PDFs (WeasyPrint, Noto Sans CJK SC)
read back with pdftotext; page 1 saved as a PNG under test-artifacts/letters/."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from arrears.adapters.channels.letters import LETTER_LOCALES, letter_template
from arrears.domain.compliance.documents import LETTER_FIELDS
from arrears.domain.errors import ValidationError
from arrears.services.letters import (
    LETTER_ELEMENTS,
    CollectionLetter,
    check_letter_template,
    compose_letter,
)

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "letters"

ZH = CollectionLetter(
    locale="zh_CN",
    reference="CL-2026-000123",
    letter_date=date(2026, 11, 28),
    as_of=date(2026, 11, 27),
    borrower_name="张伟",
    amount_owed_minor=1_234_567,
    currency="CNY",
    reason_and_legal_basis="您于2026年3月1日与本行签订《个人网络消费贷款合同》，借款人民币5万元，"
    "约定按月还款；依据该合同第八条及《中华人民共和国民法典》第六百七十四条、第六百七十六条，"
    "您应按期归还借款本金及利息。",
    rights_and_duties="您有权查询借款明细、对欠款金额提出异议并要求本行核实；您有义务按合同约定还款。"
    "如遇困难，可申请协商还款计划。",
    how_to_check="登录本行手机银行“我的贷款”或拨打客服热线95500查询账户明细。",
    how_to_object="自收到本函之日起15日内，致电95500或书面寄至本行个贷中心提出异议，我们将在20日内答复。",
    lender_name="示例银行股份有限公司",
    lender_contact="客服热线95500，地址：上海市浦东新区示例路1号",
)
EN = replace(
    ZH,
    locale="en",
    borrower_name="Zhang Wei",
    reason_and_legal_basis="On 1 March 2026 you signed a personal online consumer loan agreement "
    "for CNY 50,000; under clause 8 of that agreement and Articles 674 and 676 of the Civil "
    "Code of the PRC you must repay principal and interest when due.",
    rights_and_duties="You may see the details of your loan, dispute the amount and ask us to "
    "verify it; you must repay as agreed. If you are in difficulty, ask for a repayment plan.",
    how_to_check="In the mobile banking app under 'My loans', or call 95500.",
    how_to_object="Within 15 days of receiving this letter, call 95500 or write to our retail "
    "lending centre; we answer within 20 days.",
    lender_name="Example Bank Co., Ltd.",
    lender_contact="Hotline 95500, 1 Example Road, Pudong, Shanghai",
)

needs_poppler = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("pdftotext", "pdftoppm", "pdffonts")),
    reason="poppler-utils (pdftotext, pdftoppm, pdffonts) not installed",
)


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, timeout=60
    )
    return done.stdout.decode("utf-8")


@needs_poppler
@pytest.mark.parametrize("letter", [ZH, EN], ids=["zh_CN", "en"])
def test_letter_pdf_carries_every_cn_r2_element(letter: CollectionLetter, tmp_path: Path) -> None:
    made = compose_letter(letter)
    assert made.pdf.startswith(b"%PDF")
    text = " ".join(_pdf_text(made.pdf, tmp_path).split())
    assert letter.borrower_name in text
    assert made.amount_owed in text
    assert made.amount_owed == ("¥12,345.67" if letter.locale == "zh_CN" else "CN¥12,345.67")
    for part in (letter.lender_contact, letter.how_to_check[:12], letter.how_to_object[:12]):
        assert " ".join(part.split()) in text
    assert ("盖章处" if letter.locale == "zh_CN" else "(seal)") in text
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "letter.pdf")], capture_output=True, check=True, timeout=60
    ).stdout.decode()
    assert "Noto-Sans-CJK-SC" in fonts or "NotoSansCJK" in fonts
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = tmp_path / "letter.pdf"
    stem = ARTIFACTS / f"letter_{letter.locale}"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)],
        check=True,
        timeout=60,
    )
    assert stem.with_suffix(".png").stat().st_size > 10_000


def test_the_elements_are_the_domain_cn_r2_fields() -> None:
    assert tuple(LETTER_ELEMENTS) == LETTER_FIELDS


@pytest.mark.parametrize("locale", LETTER_LOCALES)
def test_shipped_templates_pass_the_check(locale: str) -> None:
    assert check_letter_template(letter_template(locale)) == []


def test_a_template_without_an_element_is_refused_naming_it() -> None:
    source = letter_template("zh_CN").replace("{{ how_to_object }}", "").replace("{{ seal }}", "")
    issues = check_letter_template(source)
    assert [i.column for i in issues] == ["how_to_object", "seal"]
    assert LETTER_ELEMENTS["how_to_object"] in issues[0].reason
    assert "seal placeholder" in issues[1].reason


def test_prohibited_language_in_a_template_or_a_value_is_refused() -> None:
    source = letter_template("zh_CN").replace("还款通知函</h1>", "还款通知函，否则后果自负</h1>")
    [hit] = check_letter_template(source)
    assert "CN-X1" in hit.reason and "后果自负" in hit.reason
    with pytest.raises(ValidationError, match="CN-X1"):
        compose_letter(replace(ZH, rights_and_duties="不还钱就爆通讯录"))


def test_a_letter_missing_a_value_is_not_rendered() -> None:
    with pytest.raises(ValidationError) as caught:
        compose_letter(replace(ZH, how_to_check="  ", lender_contact=""))
    assert {i.column for i in caught.value.issues} == {"how_to_check", "lender_contact"}


def test_a_syntax_error_is_reported() -> None:
    [issue] = check_letter_template("{{ name ")
    assert issue.column == "syntax"

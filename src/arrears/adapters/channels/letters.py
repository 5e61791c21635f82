"""Collection letters (CN-R2): a Jinja2 template (sandboxed, HTML-escaped) per language,
rendered to HTML and then to PDF with WeasyPrint in "Noto Sans CJK SC".

The templates ship with the package (``letter_templates/letter.<locale>.html.j2``, zh_CN and
en). Their variables are the CN-R2 elements (``arrears.domain.compliance.documents``:
``name``, ``amount_owed``, ``reason_and_legal_basis``, ``rights_and_duties``,
``how_to_check``, ``how_to_object``, ``lender_contact``, ``seal``) plus ``lender_name``,
``reference``, ``letter_date`` and ``as_of``. What a letter must contain is checked by
``services.letters``; this module only renders. The repayment-plan agreements
(``agreement_<locale>.html``, rendered by ``render_agreement_html``) live in the same folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files

from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

__all__ = [
    "LETTER_CSS",
    "LETTER_LOCALES",
    "letter_template",
    "render_agreement_html",
    "render_dossier_html",
    "render_letter_html",
    "render_pdf",
    "template_variables",
]

LETTER_LOCALES = ("zh_CN", "en")

LETTER_CSS = """
@page { size: A4; margin: 22mm 20mm; }
body { font-family: "Noto Sans CJK SC", sans-serif; font-size: 11pt; line-height: 1.6; }
h1 { text-align: center; font-size: 18pt; margin: 6mm 0; }
h2 { font-size: 12pt; margin: 5mm 0 1mm; }
.ref { text-align: right; font-size: 9pt; color: #444; }
.amount { font-size: 13pt; }
.seal-block { margin-top: 14mm; margin-left: 60%; text-align: center; }
.seal { width: 38mm; height: 38mm; border: 1.5pt dashed #b00; border-radius: 50%;
        color: #b00; display: flex; align-items: center; justify-content: center;
        margin: 2mm auto; font-size: 10pt; line-height: 38mm; }
"""

_ENV = SandboxedEnvironment(autoescape=True, keep_trailing_newline=True)


def letter_template(locale: str) -> str:
    """The shipped template source for ``locale`` (zh_CN or en)."""
    if locale not in LETTER_LOCALES:
        raise KeyError(locale)
    return (files(__package__) / "letter_templates" / f"letter.{locale}.html.j2").read_text(
        encoding="utf-8"
    )


def template_variables(source: str) -> set[str]:
    """The variables a template source uses (raises jinja2.TemplateSyntaxError)."""
    return set(meta.find_undeclared_variables(_ENV.parse(source)))


def render_letter_html(source: str, values: Mapping[str, str]) -> str:
    """The letter as HTML; every value is escaped."""
    return _ENV.from_string(source).render(**values, css=Markup(LETTER_CSS))  # noqa: S704 - our constant


def render_agreement_html(locale: str, values: Mapping[str, object]) -> str:
    """A repayment-plan agreement (``letter_templates/agreement_<locale>.html``) as HTML;
    every value is escaped. What it must say is decided by ``services.agreements``."""
    if locale not in LETTER_LOCALES:
        raise KeyError(locale)
    source = (files(__package__) / "letter_templates" / f"agreement_{locale}.html").read_text(
        encoding="utf-8"
    )
    return _ENV.from_string(source).render(**values, css=Markup(LETTER_CSS))  # noqa: S704 - our constant


def render_dossier_html(locale: str, values: Mapping[str, object]) -> str:
    """A visit dossier (``letter_templates/dossier_<locale>.html``) as HTML; every value is
    escaped. What it says is gathered by ``services.dossiers``."""
    if locale not in LETTER_LOCALES:
        raise KeyError(locale)
    source = (files(__package__) / "letter_templates" / f"dossier_{locale}.html").read_text(
        encoding="utf-8"
    )
    return _ENV.from_string(source).render(**values, css=Markup(LETTER_CSS))  # noqa: S704 - our constant


def render_pdf(html: str) -> bytes:
    """HTML → PDF (WeasyPrint embeds subsets of the CJK font)."""
    from weasyprint import HTML  # type: ignore[import-untyped]  # heavy: only when used

    pdf = HTML(string=html).write_pdf()
    if pdf is None:  # only when a target file is given
        raise RuntimeError("WeasyPrint returned no PDF")
    return bytes(pdf)

"""Templates compiled per language: constant translations folded in, the rest as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from arrears.web.i18n import catalogue
from arrears.web.templating import TemplateSet


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "page.html").write_text(
        '<p>{{ _("Work queue") }}</p>'
        '<p>{{ _("Loans, as of %(date)s") % {"date": day} }}</p>'
        "<p>{{ _(word) }}</p>"
        '<p>{{ ngettext("%(num)d entry", "%(num)d entries", n) % {"num": n} }}</p>'
        '<p title="{{ _("Systems send it as: Authorization: Bearer <token>") }}"></p>',
        encoding="utf-8",
    )
    return tmp_path


def _render(templates: TemplateSet, locale: str, **values: object) -> str:
    lang = catalogue(locale)
    return (
        templates.for_locale(locale)
        .get_template("page.html")
        .render(_=lang.gettext, gettext=lang.gettext, ngettext=lang.ngettext, **values)
    )


def test_constant_translations_are_in_the_compiled_template(folder: Path) -> None:
    templates = TemplateSet(folder)
    env = templates.for_locale("zh_CN")
    source = env.loader.get_source(env, "page.html")[0]  # type: ignore[union-attr]
    code = env.compile(source, "page.html", raw=True)
    assert "工作队列" in code  # folded: static text, no gettext call for it
    assert "Work queue" not in code


def test_pages_read_the_same_in_each_language(folder: Path) -> None:
    templates = TemplateSet(folder)
    zh = _render(templates, "zh_CN", day="2026年11月29日", word="Phone", n=2)
    en = _render(templates, "en", day="Nov 29, 2026", word="Phone", n=1)
    assert "<p>工作队列</p>" in zh and "<p>Work queue</p>" in en
    assert "2026年11月29日" in zh and "Loans, as of Nov 29, 2026" in en
    assert "<p>电话</p>" in zh and "<p>Phone</p>" in en  # a variable still goes through _
    assert "<p>1 entry</p>" in en and "2" in zh


def test_folded_text_and_values_are_escaped(folder: Path) -> None:
    templates = TemplateSet(folder)
    html = _render(templates, "en", day="<script>", word="Phone", n=1)
    assert "<script>" not in html and "&lt;script&gt;" in html
    # The i18n extension marked translations safe: "<token>" went out as a tag.
    assert "Bearer &lt;token&gt;" in html

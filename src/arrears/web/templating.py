"""Page templates compiled once per language, with constant translations folded in.

A page template says ``{{ _("Borrower") }}``; Jinja's i18n extension turns that into a call
per render (the catalogue lookup, a ``Markup`` wrapper and its ``hasattr`` checks): the
account view made ~130 of them. Here each language has its own environment whose parser
replaces ``_("literal")`` / ``gettext("literal")`` by the translated literal, so the
compiled template holds the translated text as static data. Calls with a variable argument,
``ngettext`` and ``_("… %(x)s …") % {…}`` (the ``%`` still runs per render, on the folded
string) work as before, ``_`` and friends are still passed to every render for them.

The folded text is an ordinary string literal: autoescaping escapes it like any other text
(the i18n extension marked translations safe, so a translation with ``<`` was sent raw).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, nodes, select_autoescape
from jinja2.visitor import NodeTransformer

from arrears.web.i18n import catalogue

__all__ = ["TemplateSet"]

_GETTEXT_NAMES = frozenset({"_", "gettext"})


class _FoldTranslations(NodeTransformer):
    def __init__(self, translate: Any) -> None:
        self.translate = translate

    def visit_Call(self, call: nodes.Call) -> nodes.Node:
        node = self.generic_visit(call)
        if (
            isinstance(node, nodes.Call)
            and isinstance(node.node, nodes.Name)
            and node.node.name in _GETTEXT_NAMES
            and len(node.args) == 1
            and isinstance(node.args[0], nodes.Const)
            and isinstance(node.args[0].value, str)
            and not node.kwargs
            and node.dyn_args is None
            and node.dyn_kwargs is None
        ):
            return nodes.Const(self.translate(node.args[0].value), lineno=node.lineno)
        return node


class _LocaleEnvironment(Environment):
    """An environment whose templates have ``locale``'s constant translations folded in."""

    def __init__(self, locale: str, folder: Path) -> None:
        super().__init__(
            loader=FileSystemLoader(folder),
            autoescape=select_autoescape(["html", "svg"]),
            extensions=["jinja2.ext.i18n"],
            auto_reload=False,  # templates ship with the package
        )
        self._fold = _FoldTranslations(catalogue(locale).gettext)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        folded = self._fold.visit(tree)
        assert isinstance(folded, nodes.Template)  # noqa: S101 - the root stays a template
        return folded


class TemplateSet:
    """One template environment per language, made on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._by_locale: dict[str, Environment] = {}

    def for_locale(self, locale: str) -> Environment:
        env = self._by_locale.get(locale)
        if env is None:
            env = self._by_locale.setdefault(locale, _LocaleEnvironment(locale, self.folder))
        return env

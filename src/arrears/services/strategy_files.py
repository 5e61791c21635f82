"""Strategy documents in YAML: read, locate every field, validate (docs/strategies.md).

The YAML is composed into nodes first so each field's line and column are known; the plain
data then goes to the pure parser (``arrears.domain.strategy.parse_strategy``), which reports
every bad field with document, line, column and field path. Challengers named by a strategy
are files next to it (for the shipped default: other files of ``arrears/strategies``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from arrears.domain.errors import Issue, ValidationError
from arrears.domain.strategy import Arm, Strategy, arms_of, parse_strategy

__all__ = [
    "DEFAULT_STRATEGY",
    "load_arms",
    "load_strategy",
    "parse_strategy_text",
    "read_yaml",
]

DEFAULT_STRATEGY = "default_cn.yaml"
_Where = dict[tuple[str | int, ...], tuple[int, int]]


def _walk(node: yaml.Node, path: tuple[str | int, ...], where: _Where) -> Any:
    where.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _walk(key_node, (*path, "\0key"), {})
            if isinstance(key, str | int):
                mark = key_node.start_mark
                where[(*path, str(key))] = (mark.line + 1, mark.column + 1)
                out[key] = _walk(value_node, (*path, str(key)), where)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*path, i), where) for i, item in enumerate(node.value)]
    loader = yaml.SafeLoader("")
    return loader.construct_object(node, deep=True)


def read_yaml(text: str, document: str) -> tuple[Any, _Where]:
    """Plain data and the (line, column) of every field path, or a located syntax error."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = None if mark is None else mark.line + 1
        col = "" if mark is None else f" (line {line}, column {mark.column + 1})"
        raise ValidationError(
            [Issue(document, line, None, f"not valid YAML: {exc.problem}{col}")]
        ) from None
    except yaml.YAMLError as exc:
        raise ValidationError([Issue(document, None, None, f"not valid YAML: {exc}")]) from None
    if node is None:
        raise ValidationError([Issue(document, None, None, "the document is empty")])
    where: _Where = {}
    return _walk(node, (), where), where


def parse_strategy_text(text: str, document: str) -> Strategy:
    data, where = read_yaml(text, document)
    return parse_strategy(data, document, where.get)


def _read(path: Path | None) -> tuple[str, str]:
    """(text, document name) of a file, or of the shipped default when ``path`` is None."""
    if path is None:
        res = resources.files("arrears.strategies").joinpath(DEFAULT_STRATEGY)
        return res.read_text(encoding="utf-8"), DEFAULT_STRATEGY
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise ValidationError(
            [Issue(str(path), None, None, f"cannot read the strategy: {exc.strerror}")]
        ) from None


def load_strategy(path: Path | None = None) -> Strategy:
    """A strategy file (default: the shipped ``default_cn.yaml``), validated."""
    text, document = _read(path)
    return parse_strategy_text(text, document)


def load_arms(path: Path | None = None) -> tuple[Arm, ...]:
    """The strategy and its challengers (files next to it), as arms with traffic shares."""
    champion = load_strategy(path)
    resolved: dict[str, Strategy] = {}
    issues: list[Issue] = []
    for c in champion.challengers:
        target = None if path is None else path.parent / c.strategy
        try:
            if target is None:
                res = resources.files("arrears.strategies").joinpath(c.strategy)
                resolved[c.strategy] = parse_strategy_text(res.read_text("utf-8"), c.strategy)
            else:
                resolved[c.strategy] = load_strategy(target)
        except ValidationError as exc:
            issues.extend(exc.issues)
        except OSError:
            issues.append(Issue(c.strategy, None, None, "challenger strategy not found"))
    if issues:
        raise ValidationError(issues)
    return arms_of(champion, resolved)

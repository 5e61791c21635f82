"""CN-X1 content screening with a versioned zh + en lexicon, and the other text checks.

``screen_text(text, lexicon)`` returns every hit (category, term, position). Text is
NFKC-normalised and case-folded first, so full-width letters and capitals do not slip
through; English terms match on word boundaries, Chinese terms anywhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "DEFAULT_LEXICON",
    "X1_CATEGORIES",
    "Category",
    "Hit",
    "Lexicon",
    "screen_text",
]


class Category(StrEnum):
    THREAT = "threat"
    INSULT = "insult"
    IMPERSONATION = "impersonation"  # of courts, police, prosecutors
    EXPOSURE = "exposure"  # threats to expose, to contact the phone book
    PUBLIC_POSTING = "public_posting"
    DEBT_MENTION = "debt_mention"  # never to a third party (CN-P1, US-3P)
    SUIT = "suit"  # suit or threat of suit (US-B1 on time-barred debt)
    OPT_OUT = "opt_out"  # an opt-out instruction (US-E1 requires one)


X1_CATEGORIES = frozenset(
    {
        Category.THREAT,
        Category.INSULT,
        Category.IMPERSONATION,
        Category.EXPOSURE,
        Category.PUBLIC_POSTING,
    }
)


@dataclass(frozen=True, slots=True)
class Hit:
    category: Category
    term: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Lexicon:
    version: str
    terms: Mapping[Category, tuple[str, ...]]


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _pattern(term: str) -> re.Pattern[str]:
    norm = _normalise(term)
    body = re.escape(norm).replace(r"\ ", r"\s+")
    if norm.isascii():
        return re.compile(rf"(?<![a-z0-9]){body}(?![a-z0-9])")
    return re.compile(body)


def screen_text(text: str, lexicon: Lexicon) -> list[Hit]:
    """Every occurrence of every lexicon term in ``text``, ordered by position."""
    norm = _normalise(text)
    hits = [
        Hit(category, term, m.start(), m.end())
        for category, terms in lexicon.terms.items()
        for term in terms
        for m in _pattern(term).finditer(norm)
    ]
    return sorted(hits, key=lambda h: (h.start, h.end, h.category, h.term))


DEFAULT_LEXICON = Lexicon(
    version="zh-en-2026.1",
    terms={
        Category.THREAT: (
            "弄死",
            "打死",
            "杀了你",
            "砍死",
            "卸你",
            "后果自负",
            "找人收拾",
            "上门堵你",
            "让你好看",
            "小心你的家人",
            "kill you",
            "hurt you",
            "break your",
            "you will regret",
            "watch your back",
            "we know where your family",
        ),
        Category.INSULT: (
            "老赖",
            "骗子",
            "废物",
            "畜生",
            "不要脸",
            "王八蛋",
            "去死",
            "deadbeat",
            "scum",
            "idiot",
            "loser",
            "worthless",
        ),
        Category.IMPERSONATION: (
            "法院通知",
            "我们是法院",
            "公安局",
            "派出所",
            "警察",
            "检察院",
            "律师函已立案",
            "立案通知",
            "逮捕",
            "拘留",
            "police",
            "court officer",
            "sheriff",
            "arrest warrant",
            "we are the court",
            "federal agent",
        ),
        Category.EXPOSURE: (
            "通讯录",
            "爆通讯录",
            "告诉你的亲友",
            "通知你的单位",
            "告诉你的同事",
            "让你身败名裂",
            "曝光",
            "your contacts",
            "phone book",
            "tell your employer",
            "tell your family",
            "expose you",
        ),
        Category.PUBLIC_POSTING: (
            "挂到网上",
            "发朋友圈",
            "公开你的信息",
            "张贴",
            "大字报",
            "post online",
            "social media",
            "publish your",
            "wall of shame",
        ),
        Category.DEBT_MENTION: (
            "欠款",
            "欠钱",
            "逾期",
            "还款",
            "债务",
            "贷款",
            "催收",
            "debt",
            "owe",
            "owes",
            "overdue",
            "repay",
            "payment",
            "collection",
            "loan",
        ),
        Category.SUIT: (
            "起诉",
            "诉讼",
            "告上法庭",
            "sue",
            "lawsuit",
            "legal action",
            "take you to court",
        ),
        Category.OPT_OUT: (
            "退订",
            "回复td",
            "stop",
            "unsubscribe",
            "opt out",
            "opt-out",
        ),
    },
)

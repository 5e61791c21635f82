"""The compliance gate (spec: ../shared/spec/compliance.md; docs/compliance.md).

``decide(attempt, history, pack)`` is the one pure function every contact passes; the
document checks (``check_letter``, ``check_scorecard``) and ``screen_text`` are its pure
companions for letters, scorecards and texts.
"""

from arrears.domain.compliance.documents import check_letter, check_scorecard
from arrears.domain.compliance.gate import decide
from arrears.domain.compliance.lexicon import DEFAULT_LEXICON, Category, Hit, Lexicon, screen_text
from arrears.domain.compliance.model import (
    Actor,
    ActorKind,
    Attempt,
    Channel,
    ClockWindow,
    Decision,
    Duty,
    EventKind,
    HistoryEntry,
    Outcome,
    PastAttempt,
    Purpose,
    StateEvent,
    Target,
    TargetKind,
)
from arrears.domain.compliance.packs import Approval, Pack, PackError, cn_pack, pack_by_id, us_pack

__all__ = [
    "DEFAULT_LEXICON",
    "Actor",
    "ActorKind",
    "Approval",
    "Attempt",
    "Category",
    "Channel",
    "ClockWindow",
    "Decision",
    "Duty",
    "EventKind",
    "HistoryEntry",
    "Hit",
    "Lexicon",
    "Outcome",
    "Pack",
    "PackError",
    "PastAttempt",
    "Purpose",
    "StateEvent",
    "Target",
    "TargetKind",
    "check_letter",
    "check_scorecard",
    "cn_pack",
    "decide",
    "pack_by_id",
    "screen_text",
    "us_pack",
]

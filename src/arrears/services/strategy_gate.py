"""Pass proposed actions through the compliance gate (``arrears.domain.compliance.decide``).

Each proposal with a contact channel becomes an ``Attempt`` to the borrower at the planned
moment (``send_at`` on the as-of date, in the lender's zone), judged against the borrower's
past attempts. Internal tasks (agency placement, legal review) contact nobody: they pass
without a decision. The gate is pure and deterministic, so proposals whose attempt is the same
and whose borrower has no history share one decision (a cache keyed by what the gate reads).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pyarrow as pa

from arrears.domain.compliance import (
    Actor,
    ActorKind,
    Attempt,
    Channel,
    HistoryEntry,
    Purpose,
    Target,
    TargetKind,
    cn_pack,
    decide,
)
from arrears.domain.compliance.packs import Pack

__all__ = [
    "GATE_SCHEMA",
    "Verdict",
    "compliance_decider",
    "gate_table",
    "proposal_attempt",
]


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    blocked_by: tuple[str, ...] = ()
    reason: str = ""


Decide = Callable[[Mapping[str, object]], Verdict]
GATE_SCHEMA = pa.schema(
    [("allowed", pa.bool_()), ("blocked_by", pa.string()), ("gate_reason", pa.string())]
)
_HUMAN = frozenset({Channel.CALL, Channel.VISIT})


def proposal_attempt(
    p: Mapping[str, object], pack_id: str, address: str, at: datetime, zone: str
) -> Attempt:
    """The contact a proposal (a PROPOSAL_SCHEMA row) would make, as the gate judges it: to
    the borrower at ``address``, by a collector for calls and visits, else by the system."""
    channel = Channel(str(p["channel"]))
    return Attempt(
        pack=pack_id,
        channel=channel,
        purpose=Purpose(str(p["purpose"])),
        target=Target(TargetKind.BORROWER, address, timezone=zone),
        at=at,
        actor=Actor(ActorKind.COLLECTOR if channel in _HUMAN else ActorKind.SYSTEM),
    )


def compliance_decider(
    as_of: date,
    lender_tz: str,
    history: Mapping[str, Sequence[HistoryEntry]] | None = None,
    addresses: Mapping[str, Mapping[str, str]] | None = None,
    pack: Pack | None = None,
    send_at: time = time(10, 0),
) -> Decide:
    """A ``decide`` hook judging each proposal (a PROPOSAL_SCHEMA row as a mapping)."""
    chosen = pack or cn_pack()
    at = datetime.combine(as_of, send_at, ZoneInfo(lender_tz))
    past = history or {}
    where = addresses or {}
    cache: dict[tuple[str, str], Verdict] = {}

    def judge(p: Mapping[str, object]) -> Verdict:
        if p["channel"] is None:
            return Verdict(True, (), "internal task: contacts nobody")
        borrower = str(p["borrower_id"])
        entries = past.get(borrower, ())
        key = (str(p["channel"]), str(p["purpose"]))
        if not entries and key in cache:
            return cache[key]
        Channel(str(p["channel"]))
        address = where.get(borrower, {}).get(key[0], borrower)
        attempt = proposal_attempt(p, chosen.pack_id, address, at, lender_tz)
        d = decide(attempt, entries, chosen)
        verdict = Verdict(d.allowed, d.blocked_by, d.reasons.get("en", ""))
        if not entries:
            cache[key] = verdict
        return verdict

    return judge


def gate_table(proposals: pa.Table, decide_one: Decide) -> pa.Table:
    """``proposals`` with allowed / blocked_by (comma-separated rule ids) / gate_reason."""
    keys = ("borrower_id", "channel", "purpose")
    cols = [proposals[k].to_pylist() for k in keys]
    verdicts = [decide_one(dict(zip(keys, row, strict=True))) for row in zip(*cols, strict=True)]
    extra = [
        pa.array([v.allowed for v in verdicts], pa.bool_()),
        pa.array([",".join(v.blocked_by) or None for v in verdicts], pa.string()),
        pa.array([v.reason for v in verdicts], pa.string()),
    ]
    out = proposals
    for f, arr in zip(GATE_SCHEMA, extra, strict=True):
        out = out.append_column(f, arr)
    return out

"""The dry run's gate judges each proposal at the address its channel would use: an opt-out
of one e-mail address blocks e-mail to it, not texts to the borrower's phone."""

from __future__ import annotations

from datetime import date, datetime

from arrears.domain.compliance import EventKind, StateEvent
from arrears.domain.compliance.model import Channel
from arrears.services.strategy_gate import compliance_decider

AS_OF = date(2026, 11, 28)
PHONE = "+8613800138000"
EMAIL = "li.wei@example.cn"


def _proposal(channel: str) -> dict[str, object]:
    return {
        "borrower_id": "B1",
        "loan_id": "L1",
        "as_of": AS_OF,
        "dpd": 5,
        "action": channel,
        "channel": channel,
        "purpose": "collection",
        "template": None,
    }


def test_an_email_opt_out_blocks_email_at_that_address_only() -> None:
    out = StateEvent(
        EventKind.OPT_OUT,
        datetime.fromisoformat("2026-11-20T10:00:00+08:00"),
        channel=Channel.EMAIL,
        address=EMAIL,
    )
    addresses = {"B1": {"sms": PHONE, "email": EMAIL}}
    judge = compliance_decider(AS_OF, "Asia/Shanghai", {"B1": [out]}, addresses)
    email, sms = judge(_proposal("email")), judge(_proposal("sms"))
    assert not email.allowed and email.blocked_by
    assert sms.allowed
    # Another address for the same borrower is not opted out.
    other = compliance_decider(
        AS_OF, "Asia/Shanghai", {"B1": [out]}, {"B1": {"email": "work@example.cn"}}
    )
    assert other(_proposal("email")).allowed

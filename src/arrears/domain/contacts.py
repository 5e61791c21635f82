"""Contact attempts: channels, outcomes and the reasons borrowers give for falling behind."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ANSWERED_OUTCOMES", "Channel", "ContactOutcome", "DelinquencyReason"]


class Channel(StrEnum):
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"
    VISIT = "visit"
    LETTER = "letter"


class ContactOutcome(StrEnum):
    PROMISE_TO_PAY = "promise_to_pay"
    PAID_ALREADY = "paid_already"
    CALLBACK = "callback"
    REFUSED = "refused"
    DISPUTE = "dispute"
    MESSAGE_LEFT = "message_left"
    THIRD_PARTY = "third_party"
    WRONG_NUMBER = "wrong_number"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    SWITCHED_OFF = "switched_off"


ANSWERED_OUTCOMES = frozenset(
    {
        ContactOutcome.PROMISE_TO_PAY,
        ContactOutcome.PAID_ALREADY,
        ContactOutcome.CALLBACK,
        ContactOutcome.REFUSED,
        ContactOutcome.DISPUTE,
        ContactOutcome.MESSAGE_LEFT,
        ContactOutcome.THIRD_PARTY,
        ContactOutcome.WRONG_NUMBER,
    }
)


class DelinquencyReason(StrEnum):
    UNEMPLOYMENT = "unemployment"
    INCOME_DROP = "income_drop"
    ILLNESS = "illness"
    BUSINESS_LOSS = "business_loss"
    FORGOT = "forgot"
    DISPUTE = "dispute"
    OVERINDEBTED = "overindebted"
    FRAUD_CLAIM = "fraud_claim"
    OTHER = "other"

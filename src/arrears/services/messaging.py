"""The outbox and its dispatcher.

- ``enqueue`` writes a message in the caller's transaction — the one that stored the gate's
  decision allowing it — under an idempotency key: enqueueing the same key again is a no-op.
- ``dispatch_batch`` claims due messages (a conditional UPDATE per message: of two
  dispatchers, on PostgreSQL or SQLite, exactly one wins each message; PostgreSQL also skips
  rows another claim has locked), sends each outside any transaction, then records the
  result: sent; or a retry after a fixed backoff (1 min, 5 min, 30 min, 2 h, 6 h); or dead
  with the reason after a permanent error or the last try. A dispatcher that crashes holds its
  messages until their lease ends; then they are claimed again and sent under the same key,
  which providers use to drop the duplicate (at least once on the wire, once accepted).
- ``apply_receipt``: a provider's delivery receipt (webhook) updates the message, once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from arrears.adapters.db import messaging_tables as mt
from arrears.adapters.db.engine import savepoint
from arrears.domain.messages import OutMessage, Sender, SendError, verify

__all__ = [
    "BACKOFF",
    "DispatchResult",
    "OutMessage",
    "SendError",
    "Sender",
    "apply_receipt",
    "dispatch_batch",
    "enqueue",
    "verify_signature",
]

BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
MAX_ATTEMPTS = len(BACKOFF) + 1


def enqueue(
    conn: Connection,
    *,
    key: str,
    channel: str,
    recipient: str,
    locale: str,
    template: str,
    body: str,
    now: datetime,
    subject: str | None = None,
    borrower_id: str | None = None,
    loan_id: str | None = None,
    decision_id: int | None = None,
) -> int | None:
    """Queue a message; its id, or None when ``key`` was queued before."""
    o = mt.outbox_messages
    if conn.execute(select(o.c.message_id).where(o.c.idempotency_key == key)).first():
        return None
    try:
        with savepoint(conn):
            result = conn.execute(
                insert(o).values(
                    idempotency_key=key,
                    channel=channel,
                    borrower_id=borrower_id,
                    loan_id=loan_id,
                    recipient=recipient,
                    locale=locale,
                    template=template,
                    subject=subject,
                    body=body,
                    status="queued",
                    attempts=0,
                    next_attempt_at=now,
                    decision_id=decision_id,
                    created_at=now,
                )
            )
    except IntegrityError:  # queued concurrently under the same key
        return None
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def _claimable(now: datetime) -> object:
    o = mt.outbox_messages
    return or_(
        and_(o.c.status == "queued", o.c.next_attempt_at <= now),
        and_(o.c.status == "sending", o.c.lease_until < now),
    )


def _claim(
    engine: Engine, now: datetime, batch: int, lease: timedelta, channels: list[str]
) -> list[OutMessage]:
    o = mt.outbox_messages
    with engine.begin() as conn:
        q = (
            select(o.c.message_id)
            .where(_claimable(now), o.c.channel.in_(channels))  # type: ignore[arg-type]
            .order_by(o.c.next_attempt_at, o.c.message_id)
            .limit(batch)
        )
        if conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        ids = [r[0] for r in conn.execute(q)]
        won = []
        for message_id in ids:
            claimed = conn.execute(
                update(o)
                .where(o.c.message_id == message_id, _claimable(now))  # type: ignore[arg-type]
                .values(status="sending", lease_until=now + lease, attempts=o.c.attempts + 1)
            ).rowcount
            if claimed == 1:
                won.append(message_id)
        rows = conn.execute(
            select(
                o.c.message_id,
                o.c.idempotency_key,
                o.c.channel,
                o.c.recipient,
                o.c.locale,
                o.c.subject,
                o.c.body,
                o.c.attempts,
            ).where(o.c.message_id.in_(won))
        ).all()
    return [OutMessage(*r) for r in sorted(rows, key=lambda r: won.index(r[0]))]


@dataclass(frozen=True, slots=True)
class DispatchResult:
    sent: int = 0
    retried: int = 0
    dead: int = 0


def dispatch_batch(
    engine: Engine,
    senders: Mapping[str, Sender],
    clock: Callable[[], datetime],
    batch: int = 50,
    lease: timedelta = timedelta(minutes=5),
) -> DispatchResult:
    """Claim up to ``batch`` due messages and send them; what happened."""
    o = mt.outbox_messages
    sent = retried = dead = 0
    # Only channels with a provider are claimed: the others stay queued until one is set.
    for m in _claim(engine, clock(), batch, lease, sorted(senders)):
        sender = senders[m.channel]
        try:
            provider_id = sender.send(m)
        except SendError as exc:
            now = clock()
            final = exc.permanent or m.attempts >= MAX_ATTEMPTS
            values: dict[str, object] = {"last_error": str(exc)[:2000], "lease_until": None}
            if final:
                values["status"] = "dead"
                dead += 1
            else:
                values |= {"status": "queued", "next_attempt_at": now + BACKOFF[m.attempts - 1]}
                retried += 1
            with engine.begin() as conn:
                conn.execute(
                    update(o)
                    .where(o.c.message_id == m.message_id, o.c.status == "sending")
                    .values(**values)
                )
            continue
        with engine.begin() as conn:
            conn.execute(
                update(o)
                .where(o.c.message_id == m.message_id, o.c.status == "sending")
                .values(
                    status="sent",
                    provider=sender.name,
                    provider_message_id=provider_id,
                    sent_at=clock(),
                    lease_until=None,
                    last_error=None,
                )
            )
        sent += 1
    return DispatchResult(sent, retried, dead)


def verify_signature(secret: str, body: bytes, signature: str | None) -> bool:
    """The gateway's HMAC-SHA256 (hex) of ``body`` with the shared secret."""
    return verify(secret, body, signature)


def apply_receipt(
    conn: Connection, provider: str, provider_message_id: str, delivered: bool, at: datetime
) -> bool:
    """A delivery receipt: the message becomes delivered or failed. False when unknown or
    already final (a repeated receipt changes nothing)."""
    o = mt.outbox_messages
    changed = conn.execute(
        update(o)
        .where(
            o.c.provider == provider,
            o.c.provider_message_id == provider_message_id,
            o.c.status == "sent",
        )
        .values(
            status="delivered" if delivered else "failed",
            delivered_at=at if delivered else None,
            last_error=None if delivered else "the provider reported the message undelivered",
        )
    ).rowcount
    return bool(changed)

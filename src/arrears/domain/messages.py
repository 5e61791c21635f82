"""Outgoing messages as the providers see them, and how a provider fails (the port between
``services.messaging`` and ``adapters.senders``)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

__all__ = ["OutMessage", "SendError", "Sender", "sign", "verify"]


def sign(secret: str, body: bytes) -> str:
    """A gateway's signature of a body: hex HMAC-SHA256 with the shared secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    return signature is not None and hmac.compare_digest(sign(secret, body), signature)


class SendError(Exception):
    """A provider refused or failed; ``permanent`` errors are not retried."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class OutMessage:
    message_id: int
    idempotency_key: str
    channel: str
    recipient: str
    locale: str
    subject: str | None
    body: str
    attempts: int


class Sender(Protocol):
    name: str

    def send(self, message: OutMessage) -> str:
        """Deliver to the provider; its message id. Raises SendError."""
        ...

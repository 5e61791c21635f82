"""E-mail over SMTP (smtplib): UTF-8 subjects and bodies, a Message-ID derived from the
outbox key so a resend after a crash is recognisable, optional STARTTLS and login."""

from __future__ import annotations

import hashlib
import smtplib
from email.message import EmailMessage
from email.utils import formatdate

from arrears.domain.messages import OutMessage, SendError

__all__ = ["SmtpSender"]


class SmtpSender:
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 20.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.starttls, self.username, self.password = starttls, username, password
        self.timeout = timeout

    def message_id(self, key: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return f"<{digest}@arrears>"

    def send(self, message: OutMessage) -> str:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject or ""
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = self.message_id(message.idempotency_key)
        mail["X-Arrears-Key"] = message.idempotency_key
        mail.set_content(message.body, charset="utf-8")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username and self.password:
                    smtp.login(self.username, self.password)
                refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendError(f"recipient refused: {exc.recipients}", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"SMTP: {exc}") from None
        if refused:
            raise SendError(f"recipient refused: {refused}", permanent=True)
        return str(mail["Message-ID"])

"""Letters to a mail house: each queued letter (its final HTML) becomes a PDF in a folder the
print service collects, named by the outbox key, written atomically (temporary file, then
rename), so a resend after a crash rewrites the same file instead of printing twice."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from arrears.adapters.channels.letters import render_pdf
from arrears.domain.messages import OutMessage, SendError

__all__ = ["PrintSender"]


class PrintSender:
    name = "print"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def file_for(self, key: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)[:80]
        return self.folder / f"{safe}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.pdf"

    def send(self, message: OutMessage) -> str:
        target = self.file_for(message.idempotency_key)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            pdf = render_pdf(message.body)
            tmp = target.with_suffix(".part")
            tmp.write_bytes(pdf)
            os.replace(tmp, target)
        except OSError as exc:
            raise SendError(f"print folder: {exc}") from None
        return target.name

"""Composition root: Settings → database engine, clock, services. Nothing here runs at import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from arrears.adapters.clock import SystemClock
from arrears.adapters.products_file import load_products
from arrears.config import Settings
from arrears.domain.messages import Sender
from arrears.domain.products import ProductSettings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["App", "build_app", "senders"]


@dataclass
class App:
    settings: Settings
    clock: SystemClock
    _engine: Engine | None = None

    def products(self) -> dict[str, ProductSettings]:
        """Product code → settings from ``ARREARS_PRODUCTS_FILE`` (defaults when unset)."""
        return load_products(self.settings.products_file)

    @property
    def database_url(self) -> str:
        return self.settings.resolved_database_url()

    def db(self) -> Engine:
        """The store, migrated to the current schema (connects on first use)."""
        if self._engine is None:
            from arrears.adapters.db.engine import make_engine, upgrade

            url = self.database_url
            if url.startswith("sqlite:///"):
                self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            upgrade(url)
            self._engine = make_engine(url)
        return self._engine


def senders(app: App) -> dict[str, Sender]:
    """The message providers the settings configure, by channel (missing ones: none)."""
    from arrears.adapters.senders.aliyun_sms import AliyunSmsSender
    from arrears.adapters.senders.http_sms import HttpSmsSender
    from arrears.adapters.senders.print_letters import PrintSender
    from arrears.adapters.senders.smtp import SmtpSender

    s = app.settings
    out: dict[str, Sender] = {}
    if s.smtp_host and s.smtp_from:
        out["email"] = SmtpSender(
            s.smtp_host,
            s.smtp_port,
            s.smtp_from,
            s.smtp_starttls,
            s.smtp_username,
            s.smtp_password,
        )
    if s.sms_provider == "http" and s.sms_url and s.sms_secret:
        out["sms"] = HttpSmsSender(s.sms_url, s.sms_secret)
    if (
        s.sms_provider == "aliyun"
        and s.sms_url
        and s.aliyun_access_key_id
        and s.aliyun_access_key_secret
        and s.aliyun_sign_name
        and s.aliyun_template_code
    ):
        out["sms"] = AliyunSmsSender(
            s.sms_url,
            s.aliyun_access_key_id,
            s.aliyun_access_key_secret,
            s.aliyun_sign_name,
            {"default": s.aliyun_template_code},
            app.clock.now,
        )
    if s.letter_print_dir is not None:
        out["letter"] = PrintSender(s.letter_print_dir)
    return out


def build_app(settings: Settings | None = None) -> App:
    settings = settings or Settings()
    return App(settings=settings, clock=SystemClock(settings.lender_timezone))

"""Settings: the only reader of environment variables (prefix ``ARREARS_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Read once in ``bootstrap`` and passed down; tests build ``Settings(...)`` explicitly."""

    model_config = SettingsConfigDict(env_prefix="ARREARS_", extra="ignore")

    data_dir: Path = Field(
        default=Path("var"), description="Working files: the SQLite store, caches."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means a SQLite file in data_dir. "
        "PostgreSQL: postgresql+psycopg://user:password@host:port/db",
    )
    lender_timezone: str = "Asia/Shanghai"
    default_country: str = "CN"
    default_currency: str = "CNY"
    products_file: Path | None = Field(
        default=None, description="TOML file of product settings (see adapters/products_file.py)"
    )
    engine: str = Field(default="duckdb", pattern="^(duckdb|spark)$")
    default_locale: str = Field(default="zh_CN", pattern="^(zh_CN|en)$")
    # The compliance rule pack every contact passes (../shared/spec/compliance.md).
    compliance_pack: str = Field(default="CN", pattern="^(CN|US)$")
    host: str = "127.0.0.1"
    port: int = 8000
    cookie_secure: bool = Field(
        default=True,
        description="Send session cookies only over HTTPS (browsers also allow http://127.0.0.1)",
    )
    spark_master: str = "local[2]"
    # What messages say about the lender (templates: services/message_templates.py).
    lender_name: str = "贷款机构"
    pay_how: str = "手机银行或任一网点"
    object_how: str = "借款合同所列的客服热线"
    # E-mail: an SMTP server (none: e-mails stay queued until one is set).
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str | None = None
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    # SMS: "http" (a generic signed gateway) or "aliyun"; none: SMS stay queued.
    sms_provider: str | None = Field(default=None, pattern="^(http|aliyun)$")
    sms_url: str | None = None  # the gateway's URL, or Aliyun's endpoint
    sms_secret: str | None = None  # HMAC secret of the gateway (and of its receipts)
    aliyun_access_key_id: str | None = None
    aliyun_access_key_secret: str | None = None
    aliyun_sign_name: str | None = None
    aliyun_template_code: str | None = None
    # Letters: PDFs for the mail house are written here (none: letters stay queued).
    letter_print_dir: Path | None = None
    # Door visits: the route planner's time limit per day plan (seconds; fixed seed).
    visit_plan_seconds: float = Field(default=5.0, gt=0, le=600)
    # Door visits: check-in/out farther than this from the address needs a reason; evidence
    # files (photos, audio) are kept under evidence_dir (none: data_dir/evidence).
    visit_checkin_radius_m: int = Field(default=200, ge=10, le=5000)
    evidence_dir: Path | None = None

    def resolved_evidence_dir(self) -> Path:
        return self.evidence_dir or self.data_dir / "evidence"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'arrears.db').resolve()}"

"""Settings read once from `THOTIS_*` environment variables (SPEC.md §9) and passed down.

Nothing here reads the environment at import: call `Settings()` in the app factory, the CLI or a
worker's start-up, then hand the object to whoever needs it.
"""

from __future__ import annotations

import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.errors import ConfigurationError

#: Signing key used by `make demo` and tests. Production refuses to start with it.
DEMO_JWT_SECRET = "thotis-demo-signing-key-never-use-in-production"
#: Fernet key used by `make demo` and tests. Production refuses to start with it.
DEMO_ENCRYPTION_KEY = "dGhvdGlzLWRlbW8tZW5jcnlwdGlvbi1rZXktMzJieXQ="
#: Webhook secret shared by `make demo` with its Cal.com simulator.
DEMO_CALCOM_WEBHOOK_SECRET = "thotis-demo-calcom-webhook-secret"


class Environment(StrEnum):
    """Where the service runs; production is the only one that refuses demo secrets."""

    PRODUCTION = "production"
    DEMO = "demo"
    TEST = "test"


class LogFormat(StrEnum):
    """How log records are written on stderr."""

    JSON = "json"
    TEXT = "text"


class Settings(BaseSettings):
    """Every knob of the sidecar; each field is documented because operators read them."""

    model_config = SettingsConfigDict(env_prefix="THOTIS_", extra="ignore", frozen=True)

    env: Environment = Field(
        Environment.DEMO,
        description="`production`, `demo` or `test`; production refuses demo keys and missing secrets.",
    )
    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the HTTP server listens on.")
    workers: int = Field(1, ge=1, le=64, description="HTTP worker processes for `thotis serve`.")
    log_level: str = Field("INFO", description="Root log level (DEBUG, INFO, WARNING, ERROR).")
    log_format: LogFormat | None = Field(
        None,
        description="`json` (one JSON object per line) or `text` (one readable line); unset → json in "
        "production, text elsewhere.",
    )
    access_log: bool = Field(True, description="Log one line per HTTP request (method, path, status, duration).")
    log_flush_seconds: float = Field(
        0.2,
        ge=0,
        le=10,
        description="Log lines are written in batches at least this often (and at once from WARNING up); "
        "0 writes every line as it comes.",
    )
    shutdown_timeout_seconds: int = Field(
        20,
        ge=1,
        le=600,
        description="On SIGTERM, how long `serve` waits for requests in flight and `worker` for jobs in flight "
        "before stopping them.",
    )
    heartbeat_dir: Path = Field(
        default_factory=lambda: Path(tempfile.gettempdir()) / "thotis",
        description="Folder where `worker` and `scheduler` write their heartbeat file, read by `thotis health`.",
    )
    heartbeat_seconds: float = Field(
        10.0, ge=0.1, le=300, description="How often `worker` and `scheduler` write their heartbeat."
    )
    data_dir: Path = Field(
        Path(".thotis"),
        description="Folder for the embedded PostgreSQL and Redis of `make demo`.",
    )

    database_url: str | None = Field(
        None,
        description="PostgreSQL URL (postgresql+asyncpg://…); unset in demo → the embedded PostgreSQL.",
    )
    database_pool_size: int = Field(20, ge=1, le=500, description="Connections per worker process.")
    redis_url: str | None = Field(
        None, description="Redis URL (redis://… or unix://…); unset in demo → the embedded Redis."
    )
    redis_key_prefix: str = Field(
        "thotis:", description="Prefix of every Redis key, so several instances can share a Redis."
    )

    jwt_secret: SecretStr = Field(
        SecretStr(DEMO_JWT_SECRET), description="HS256 secret for API tokens (at least 32 characters)."
    )
    jwt_audience: str = Field("thotis", description="Expected `aud` claim of API tokens.")
    jwks_url: str | None = Field(None, description="Optional JWKS URL for RS256/ES256/EdDSA tokens issued elsewhere.")
    jwt_issuer: str | None = Field(
        None,
        description="Optional expected `iss`: tokens verified with the JWKS must carry it, and any token "
        "that names an issuer must name this one.",
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000", "http://127.0.0.1:8000"],
        description="Comma-separated Thotis origins for CORS, CSP frame-ancestors and postMessage.",
    )

    calcom_api_url: str | None = Field(
        None,
        description="Cal.com API base URL without /v2 (e.g. https://api.cal.com); unset in demo → the simulator.",
    )
    calcom_api_key: SecretStr | None = Field(
        None, description="Cal.com organisation/admin API key, used when a mentor has no own key."
    )
    calcom_simulator_delay_ms: int = Field(
        0, ge=0, le=60_000, description="Latency the in-process Cal.com simulator adds to each answer (benchmarks)."
    )
    calcom_webhook_secret: SecretStr | None = Field(
        None, description="Secret shared with Cal.com for `X-Cal-Signature-256`."
    )
    calcom_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Longest wait for Cal.com's answer to one attempt (read and write)."
    )
    calcom_retry_budget_seconds: float = Field(
        15.0,
        gt=0,
        le=300,
        description="Time a Cal.com call may take with all its retries (429, 5xx, timeouts) before the "
        "caller gets 503 CALCOM_UNAVAILABLE or 504 CALCOM_TIMEOUT.",
    )
    calcom_webhook_tolerance_seconds: int = Field(
        600,
        ge=10,
        le=7 * 24 * 3600,
        description="Oldest (and, by a tenth of it, newest) signed `createdAt` a Cal.com webhook may carry.",
    )
    calcom_inbox_sweep_seconds: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="How often each process applies Cal.com webhooks still pending; 0 turns the sweep off here.",
    )
    webhook_delivery_interval_seconds: float = Field(
        1.0,
        ge=0,
        le=60,
        description="How often each process looks for due outbound webhook deliveries; 0 turns delivery off here.",
    )
    webhook_retry_schedule_seconds: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [60, 300, 1800, 3600, 7200, 14_400, 28_800, 28_800],
        description="Comma-separated seconds between the slow retries of a failing delivery, after the "
        "1 s, 2 s and 4 s ones (each ±20 %); after the last one the delivery is dead.",
    )
    webhook_delivery_lease_seconds: float = Field(
        60.0, ge=1, le=3600, description="How long a claimed delivery waits before another worker may send it again."
    )
    encryption_key: SecretStr = Field(
        SecretStr(DEMO_ENCRYPTION_KEY),
        description="Fernet key (urlsafe base64, 32 bytes) for credentials stored at rest.",
    )

    smtp_url: SecretStr | None = Field(
        None,
        description="Outgoing mail server, smtp://user:pass@host:port (smtps:// for implicit TLS); "
        "emails wait in the outbox while unset. `thotis demo` sets its local mailbox.",
    )
    email_from: str = Field("Thotis <no-reply@thotis.local>", description="From header of emails.")
    emails_disabled: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated kinds of email the sidecar does not send (confirmation, reminder, "
        "cancellation, reschedule, feedback_request), for operators who keep Cal.com's own.",
    )
    email_lease_seconds: int = Field(
        300, ge=5, le=3600, description="How long a worker holds an email it is sending before another may retry it."
    )
    admin_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses that receive alerts (database or Cal.com down, dead webhooks).",
    )
    public_url: str | None = Field(
        None, description="Base URL people reach the sidecar at, for links in emails; unset → http://HOST:PORT."
    )
    sentry_dsn: SecretStr | None = Field(None, description="Sentry DSN; error monitoring is off when unset.")
    mixpanel_token: SecretStr | None = Field(None, description="Mixpanel token; analytics is off when unset.")
    mixpanel_api_url: str = Field(
        "https://api.mixpanel.com",
        description="Mixpanel ingestion URL; https://api-eu.mixpanel.com keeps EU projects' data in the EU.",
    )

    jobs_enabled: bool = Field(
        True,
        description="Send the jobs requests ask for (an email to send now) to the workers through Redis; "
        "with it off, the scheduler's sweeps still find the work.",
    )
    run_jobs_in_process: bool = Field(
        False,
        description="Run the job worker and scheduler inside the HTTP process (`thotis demo` does); "
        "otherwise run `thotis worker` and `thotis scheduler`.",
    )
    jobs_sweep_seconds: int = Field(
        60,
        ge=1,
        le=3600,
        description="How often the scheduler runs the sweeps: reminders, feedback requests, auto-completion, "
        "unsent emails, analytics export, alerts.",
    )
    sync_interval_seconds: int = Field(
        300, ge=10, le=86_400, description="How often sessions are reconciled with Cal.com (R11.5)."
    )
    auto_complete_grace_minutes: int = Field(
        20,
        ge=0,
        le=1440,
        description="A scheduled session counts as completed this long after its end when Cal.com reported "
        "no meeting end or no-show.",
    )
    calcom_down_alert_minutes: int = Field(
        10, ge=1, le=1440, description="Admins are alerted once Cal.com has been unreachable this long."
    )
    retention_months: int = Field(
        24,
        ge=0,
        le=240,
        description="Prospective students' data of sessions that ended longer ago than this is anonymised "
        "(statistics stay); 0 keeps it.",
    )
    clock_speed: float = Field(
        1.0,
        ge=1.0,
        le=100_000.0,
        description="Demo only: how many seconds of service time pass per real second, to watch reminders "
        "and feedback requests arrive without waiting a day.",
    )
    mailbox_dir: Path | None = Field(
        None, description="Demo only: a Maildir that keeps sent emails, shown at /admin/mailbox."
    )

    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="Largest JSON request body accepted.")
    photo_max_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="Largest photo upload accepted.")
    photo_max_pixels: int = Field(
        40_000_000, ge=10_000, description="Largest width×height accepted before decoding a photo."
    )
    cache_profile_ttl_seconds: int = Field(300, ge=1, description="How long a profile stays cached.")
    cache_list_ttl_seconds: int = Field(60, ge=1, description="How long a mentor list page stays cached.")
    cache_slots_ttl_seconds: int = Field(
        120, ge=1, description="How long a mentor's free slots stay cached at most (each answer 75-100 % of it)."
    )
    cache_local_entries: int = Field(
        4096,
        ge=0,
        description="Entries each process keeps in memory in front of Redis (0 turns the local layer off); "
        "kept coherent by Redis pub/sub invalidations.",
    )
    rate_limit_api_per_minute: int = Field(1200, ge=1, description="API requests per minute allowed per token subject.")
    rate_limit_public_per_minute: int = Field(
        300, ge=1, description="Requests per minute allowed per client IP on public routes."
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated proxy IPs whose X-Forwarded-For is trusted for the client IP.",
    )
    max_page_size: int = Field(50, ge=1, le=500, description="Largest `pageSize` a list accepts.")

    @field_validator("allowed_origins", "trusted_proxies", "emails_disabled", "admin_emails", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip().rstrip("/") for item in value.split(",") if item.strip()]
        return value

    @field_validator("webhook_retry_schedule_seconds", mode="before")
    @classmethod
    def _split_seconds(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [int(item) for item in value.split(",") if item.strip()]
        return value

    @field_validator("webhook_retry_schedule_seconds")
    @classmethod
    def _sane_schedule(cls, value: list[int]) -> list[int]:
        if not 1 <= len(value) <= 30 or any(not 1 <= seconds <= 7 * 24 * 3600 for seconds in value):
            raise ValueError("1 to 30 delays, each from 1 s to 7 days")
        return value

    @field_validator("emails_disabled")
    @classmethod
    def _known_email_kinds(cls, value: list[str]) -> list[str]:
        known = {"confirmation", "reminder", "cancellation", "reschedule", "feedback_request"}
        if unknown := sorted(set(value) - known):
            raise ValueError(f"unknown email kinds {unknown}; known: {sorted(known)}")
        return value

    @property
    def base_url(self) -> str:
        """Where people reach the sidecar, for links in emails."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def effective_log_format(self) -> LogFormat:
        """THOTIS_LOG_FORMAT, or its default for the environment."""
        if self.log_format is not None:
            return self.log_format
        return LogFormat.JSON if self.is_production else LogFormat.TEXT

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    def production_problems(self) -> list[str]:
        """List what makes these settings unsafe for production (empty when fine)."""
        problems: list[str] = []
        secret = self.jwt_secret.get_secret_value()
        if secret == DEMO_JWT_SECRET:
            problems.append("THOTIS_JWT_SECRET is the demo signing key")
        elif len(secret) < 32:
            problems.append("THOTIS_JWT_SECRET must be at least 32 characters")
        if self.encryption_key.get_secret_value() == DEMO_ENCRYPTION_KEY:
            problems.append("THOTIS_ENCRYPTION_KEY is the demo key")
        required = {
            "THOTIS_DATABASE_URL": self.database_url,
            "THOTIS_REDIS_URL": self.redis_url,
            "THOTIS_CALCOM_API_URL": self.calcom_api_url,
            "THOTIS_CALCOM_WEBHOOK_SECRET": self.calcom_webhook_secret,
        }
        problems.extend(f"{name} is not set" for name, value in required.items() if not value)
        if self.smtp_url is not None and not (self.public_url or "").startswith("https://"):
            problems.append("THOTIS_PUBLIC_URL must be the sidecar's https:// address when emails are sent")
        if self.clock_speed != 1.0:
            problems.append("THOTIS_CLOCK_SPEED must be 1 in production")
        if self.mailbox_dir is not None:
            problems.append("THOTIS_MAILBOX_DIR is a demo feature")
        if not self.allowed_origins:
            problems.append("THOTIS_ALLOWED_ORIGINS is empty")
        elif any(not origin.startswith("https://") for origin in self.allowed_origins):
            problems.append("THOTIS_ALLOWED_ORIGINS must all be https:// origins")
        return problems

    def ensure_safe(self) -> None:
        """Refuse to run production with missing secrets or demo keys.

        Raises:
            ConfigurationError: listing every problem at once.
        """
        if self.is_production and (problems := self.production_problems()):
            raise ConfigurationError("unsafe production settings: " + "; ".join(problems))

    def described(self) -> list[tuple[str, str, str]]:
        """(variable, value with secrets masked, description) for `thotis config check`."""
        rows = []
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                shown = "********" if value.get_secret_value() else "(empty)"
            elif value is None:
                shown = "(unset)"
            elif isinstance(value, list):
                shown = ",".join(str(item) for item in value)
            elif name in {"database_url", "redis_url"}:
                shown = mask_url_password(str(value))
            else:
                shown = str(value)
            rows.append((f"THOTIS_{name.upper()}", shown, field.description or ""))
        return rows


def mask_url_password(url: str) -> str:
    """Hide the password of a URL so it can be printed or logged."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:****@{host}" if ":" in credentials else url

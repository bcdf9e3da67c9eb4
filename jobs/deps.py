"""What jobs need, built once by the process that runs them (`thotis worker`, or the demo's app)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import httpx

from calcom_client import CalcomClient
from core.cache import Cache
from core.clock import Clock
from core.crypto import SecretBox
from core.database import Database
from core.redis import RedisGateway
from core.settings import Environment, Settings
from thotis_ext.calcom_link import CalcomLinker
from thotis_ext.emails.sender import Mailer, SenderConfig
from webhooks_out.delivery import DeliveryConfig
from webhooks_out.endpoints import UrlPolicy


@dataclass(slots=True)
class JobDeps:
    """The long-lived objects every task receives (through the broker's state)."""

    settings: Settings
    database: Database
    redis: RedisGateway
    cache: Cache
    clock: Clock
    box: SecretBox
    calcom: CalcomClient
    linker: CalcomLinker
    mailer: Mailer | None
    http: httpx.AsyncClient  # outbound webhooks and Mixpanel

    @property
    def sender_config(self) -> SenderConfig:
        s = self.settings
        return SenderConfig(
            sender=s.email_from,
            public_url=s.base_url,
            jwt_secret=s.jwt_secret.get_secret_value(),
            jwt_audience=s.jwt_audience,
            disabled=frozenset(s.emails_disabled),
            lease=timedelta(seconds=s.email_lease_seconds),
        )

    @property
    def delivery_config(self) -> DeliveryConfig:
        return DeliveryConfig(
            lease=timedelta(seconds=self.settings.webhook_delivery_lease_seconds),
            slow_retries=tuple(self.settings.webhook_retry_schedule_seconds),
            url_policy=UrlPolicy(production=self.settings.env is Environment.PRODUCTION),
        )

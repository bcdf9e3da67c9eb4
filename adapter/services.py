"""The long-lived objects of one app instance, built once from settings at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from adapter.auth import TokenVerifier
from core.cache import Cache
from core.crypto import SecretBox
from core.database import Database
from core.ratelimit import RateLimiter
from core.redis import RedisGateway
from core.settings import Settings
from thotis_ext.profiles.service import ProfileConfig


@dataclass(slots=True)
class Services:
    """Everything a request may need, created by the app's lifespan and closed with it."""

    settings: Settings
    database: Database
    redis: RedisGateway
    cache: Cache
    limiter: RateLimiter
    verifier: TokenVerifier
    box: SecretBox
    profile_config: ProfileConfig

    async def close(self) -> None:
        await self.redis.close()
        await self.database.dispose()

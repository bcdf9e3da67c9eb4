"""The Litestar application factory: settings in, a wired app out; nothing happens at import."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from adapter.auth import TokenVerifier
from adapter.calcom_wiring import connect_calcom
from adapter.deps import DEPENDENCIES
from adapter.edge import edge_middleware
from adapter.errors import EXCEPTION_HANDLERS
from adapter.guards import api_access
from adapter.logging_setup import configure_logging
from adapter.monitoring import init_sentry
from adapter.pages import admin, directory, mentor, rate, widget
from adapter.pages.assets import static_asset
from adapter.routes import (
    availability,
    calcom_webhooks,
    health,
    jobs_admin,
    mailbox,
    media,
    monitoring,
    platform,
    privacy,
    ratings,
)
from adapter.routes.bookings import BookingsController
from adapter.routes.students import StudentsController
from adapter.routes.webhooks_admin import WebhookEndpointsController
from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from core.cache import Cache
from core.clock import Clock, ScaledClock, SystemClock
from core.crypto import SecretBox
from core.database import Database
from core.errors import ConfigurationError
from core.local_cache import InvalidationListener, LocalCache
from core.metrics import MAX_WINDOW_SECONDS, RequestMetrics
from core.ratelimit import RateLimiter
from core.redis import RedisGateway, connect_redis
from core.settings import Environment, Settings
from thotis_ext.calcom_link import CalcomLinker
from thotis_ext.profiles.service import ProfileConfig
from webhooks_in.inbox import InboxDeps, InboxSweep
from webhooks_out.delivery import DeliveryConfig, DeliveryLoop
from webhooks_out.endpoints import UrlPolicy

API_PREFIX = "/api/v2"


def build_services(
    settings: Settings, *, simulator: CalcomSimulator | None = None, clock: Clock | None = None
) -> Services:
    """Create the engine, Redis client and helpers for one process.

    Raises:
        ConfigurationError: no database or Redis URL.
    """
    if not settings.database_url or not settings.redis_url:
        raise ConfigurationError(
            "THOTIS_DATABASE_URL and THOTIS_REDIS_URL must be set (or run `thotis demo` for embedded ones)"
        )
    gateway = RedisGateway(connect_redis(settings.redis_url), prefix=settings.redis_key_prefix)
    local = LocalCache(settings.cache_local_entries) if settings.cache_local_entries > 0 else None
    box = SecretBox(settings.encryption_key.get_secret_value())
    calcom = connect_calcom(settings, simulator=simulator)
    organisation_key = settings.calcom_api_key.get_secret_value() if settings.calcom_api_key else None
    database = Database(settings.database_url, pool_size=settings.database_pool_size)
    cache = Cache(gateway, local)
    clock = clock or (ScaledClock(settings.clock_speed) if settings.clock_speed > 1 else SystemClock())
    interval = settings.webhook_delivery_interval_seconds
    services = Services(
        settings=settings,
        database=database,
        redis=gateway,
        cache=cache,
        invalidations=InvalidationListener(gateway, local) if local is not None else None,
        limiter=RateLimiter(gateway),
        verifier=TokenVerifier(
            settings.jwt_secret.get_secret_value(),
            settings.jwt_audience,
            jwks_url=settings.jwks_url,
            issuer=settings.jwt_issuer,
        ),
        box=box,
        calcom=calcom,
        linker=CalcomLinker(calcom.client, box, organisation_key or None),
        clock=clock,
        deliveries=delivery_loop(settings, database, box, clock) if interval > 0 else None,
        sweep=InboxSweep(
            InboxDeps(database, cache, clock, settings.cache_slots_ttl_seconds), settings.calcom_inbox_sweep_seconds
        )
        if settings.calcom_inbox_sweep_seconds > 0
        else None,
        profile_config=ProfileConfig(
            profile_ttl_seconds=settings.cache_profile_ttl_seconds,
            list_ttl_seconds=settings.cache_list_ttl_seconds,
            photo_max_bytes=settings.photo_max_bytes,
            photo_max_pixels=settings.photo_max_pixels,
            max_page_size=settings.max_page_size,
        ),
    )
    if settings.jobs_enabled:
        from adapter.jobs_wiring import JobsService

        in_process = settings.run_jobs_in_process
        services.jobs = JobsService(services, worker=in_process, scheduler=in_process)
    return services


def delivery_loop(settings: Settings, database: Database, box: SecretBox, clock: Clock) -> DeliveryLoop:
    """The outbound webhook delivery loop, as configured (in the app, or `thotis deliver`)."""
    config = DeliveryConfig(
        lease=timedelta(seconds=settings.webhook_delivery_lease_seconds),
        slow_retries=tuple(settings.webhook_retry_schedule_seconds),
        url_policy=UrlPolicy(production=settings.env is Environment.PRODUCTION),
    )
    return DeliveryLoop(database, box, clock.now, settings.webhook_delivery_interval_seconds or 1.0, config)


def _freeze_startup_objects() -> None:
    """Move everything allocated at start-up (modules, routes, mappers, schemas) out of the
    garbage collector's reach: a full collection then scans only what requests allocated, so its
    pause stays a few ms instead of tens of ms under load."""
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    simulator: CalcomSimulator | None = None,
    clock: Clock | None = None,
) -> Litestar:
    """Build the app. Pass `services` to share engines (tests); else they are built at start-up."""
    settings = settings or (services.settings if services else Settings())
    settings.ensure_safe()
    configure_logging(settings.log_level, settings.effective_log_format, settings.log_flush_seconds)
    init_sentry(settings)
    metrics = RequestMetrics(MAX_WINDOW_SECONDS)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if services is not None:  # owned by the caller, already in the state
            yield
            return
        app.state.services = build_services(settings, simulator=simulator, clock=clock)
        app.state.services.start()
        _freeze_startup_objects()
        try:
            yield
        finally:
            await app.state.services.close()

    api = Router(
        API_PREFIX,
        route_handlers=[
            StudentsController,
            availability.availability,
            BookingsController,
            ratings.rate,
            ratings.rating_link,
            ratings.mentor_ratings,
            ratings.review_queue,
            ratings.resolve_review,
            platform.platform_stats,
            platform.platform_mentors,
            platform.platform_export,
            monitoring.platform_health,
            jobs_admin.job_runs,
            privacy.privacy_export,
            privacy.privacy_erase,
            WebhookEndpointsController,
        ],
        before_request=api_access,
        security=[{"BearerAuth": []}],
    )
    return Litestar(
        route_handlers=[
            api,
            media.photo,
            health.live,
            health.ready,
            calcom_webhooks.receive,
            monitoring.prometheus_metrics,
            static_asset,
            *rate.ROUTES,
            *directory.ROUTES,
            *widget.ROUTES,
            *admin.ROUTES,
            *mentor.ROUTES,
            *(mailbox.ROUTES if settings.mailbox_dir is not None else ()),
        ],
        lifespan=[lifespan],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[edge_middleware(metrics, log_access=settings.access_log)],
        cors_config=CORSConfig(
            allow_origins=settings.allowed_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        ),
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Thotis sidecar API",
            version="2.0.0",
            path="/schema",
            description="Mentor profiles, sessions, ratings and statistics beside Cal.com. "
            "Every response uses the envelope {status, data} or {status, error}.",
            components=Components(
                security_schemes={"BearerAuth": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
            ),
        ),
        logging_config=None,  # ours (configure_logging) carries the request id
        state=State({"metrics": metrics, **({"services": services} if services is not None else {})}),
        debug=False,
    )

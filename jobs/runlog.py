"""Running a job with its run log: when it ran, how long, what it counted, how it failed."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.dialects.postgresql import insert

from core.database import Database
from jobs.models import JobRun

log = logging.getLogger("thotis.jobs")

Counts = dict[str, Any]

_job_var: ContextVar[str | None] = ContextVar("job", default=None)


def current_job() -> str | None:
    """The name of the job running in this context (for log records), if any."""
    return _job_var.get()


async def run_logged(database: Database, name: str, now: Callable[[], datetime],
                     work: Callable[[], Awaitable[Counts]]) -> Counts | None:  # fmt: skip
    """Run `work`, record the run, return its counts (None when it failed: the failure is logged
    and recorded, never raised, so one bad run does not stop the schedule)."""
    token = _job_var.set(name)
    try:
        started, clock = now(), time.perf_counter()
        error: str | None = None
        counts: Counts = {}
        try:
            counts = await work()
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("job %s failed", name, extra={"error_code": getattr(exc, "error_code", "JOB_FAILED")})
            _report(name, exc)
        duration_ms = int((time.perf_counter() - clock) * 1000)
        if error is None and any(counts.values()):
            log.info("job %s done in %d ms: %s", name, duration_ms, counts, extra={"duration_ms": duration_ms})
        try:
            await _record(database, name, started, now(), duration_ms, counts, error)
        except Exception as exc:  # the database may be what failed; the log line above still says so
            log.warning("job %s: run log not written: %s", name, exc)
        return None if error else counts
    finally:
        _job_var.reset(token)


def _report(name: str, exc: Exception) -> None:
    """Send a job's failure to Sentry (when the process started it) with the tags operators filter on."""
    if "sentry_sdk" not in sys.modules:  # never imported: Sentry is off in this process
        return
    import sentry_sdk

    if not sentry_sdk.is_initialized():
        return
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("feature", "thotis-mentoring")
        scope.set_tag("job", name)
        scope.set_tag("error_code", getattr(exc, "error_code", "JOB_FAILED"))
        sentry_sdk.capture_exception(exc)


async def _record(database: Database, name: str, started: datetime, finished: datetime, duration_ms: int,
                  counts: Counts, error: str | None) -> None:  # fmt: skip
    failed = 1 if error else 0
    values = {
        "name": name,
        "last_started_at": started,
        "last_finished_at": finished,
        "last_duration_ms": duration_ms,
        "last_counts": counts,
        "last_error": error,
        "last_success_started_at": None if error else started,
        "runs": 1,
        "failures": failed,
    }
    statement = insert(JobRun).values(**values)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["name"],
        set_={
            "last_started_at": excluded.last_started_at,
            "last_finished_at": excluded.last_finished_at,
            "last_duration_ms": excluded.last_duration_ms,
            "last_counts": excluded.last_counts,
            "last_error": excluded.last_error,
            "last_success_started_at": case(
                (excluded.last_error.is_(None), excluded.last_success_started_at),
                else_=JobRun.last_success_started_at,
            ),
            "runs": JobRun.runs + 1,
            "failures": JobRun.failures + failed,
        },
    )
    async with database.session() as session:
        await session.execute(statement)


async def last_success(database: Database, name: str) -> datetime | None:
    """When the last successful run of `name` started (the sync's cursor)."""
    async with database.session() as session:
        return await session.scalar(select(JobRun.last_success_started_at).where(JobRun.name == name))


async def all_runs(database: Database) -> list[JobRun]:
    """Every job's run log, by name (for the admin API)."""
    async with database.session() as session:
        return list(await session.scalars(select(JobRun).order_by(JobRun.name)))

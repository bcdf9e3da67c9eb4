"""The jobs as plain async functions of their dependencies: what the taskiq tasks run, what tests call.

Each commits its own short transactions and is idempotent: run twice, or twice at once, it
sends nothing twice (property 48).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import DependencyUnavailable, ThotisError, UpstreamTimeout
from jobs.deps import JobDeps
from jobs.runlog import last_success, run_logged
from thotis_ext.alerts import alert_admins, alert_context, dead_deliveries_alert
from thotis_ext.analytics.export import MixpanelConfig, export_pending
from thotis_ext.analytics.models import AnalyticsEvent
from thotis_ext.availability import refresh_free_slot_count
from thotis_ext.emails.mime import build_message
from thotis_ext.emails.outbox import message_id
from thotis_ext.emails.render import render_email
from thotis_ext.emails.sender import send_due
from thotis_ext.enums import CalcomLinkStatus
from thotis_ext.models import StudentProfile
from thotis_ext.privacy import anonymise_expired
from thotis_ext.profiles.service import invalidate_profile_after_commit
from thotis_ext.sessions import timed
from thotis_ext.sessions.reconcile import reconcile_mentor
from webhooks_in.inbox import InboxDeps, process_pending
from webhooks_in.privacy import forget_raw_events
from webhooks_out.delivery import deliver_due

log = logging.getLogger("thotis.jobs")

#: The first sync looks this far back; later ones from their previous start, with an overlap.
FIRST_SYNC_LOOKBACK = timedelta(days=1)
SYNC_OVERLAP = timedelta(minutes=1)
#: Exported analytics events are kept this long (for a look in the database), then removed.
ANALYTICS_KEEP = timedelta(days=7)
CALCOM_DOWN_KEY = "calcom:down-since"

Counts = dict[str, Any]


async def send_emails(deps: JobDeps, ids: Sequence[int] = (), keys: Sequence[str] = ()) -> Counts | None:
    """Send due emails (all, or the ones named by id or dedupe key)."""

    async def work() -> Counts:
        counts = await send_due(deps.database, deps.mailer, deps.sender_config, deps.clock.now, ids=ids, keys=keys)
        return counts.as_dict()

    return await run_logged(deps.database, "send_emails", deps.clock.now, work)


async def queue_reminders(deps: JobDeps) -> Counts | None:
    """Queue the 24-hour reminders now due (R6.3)."""

    async def work() -> Counts:
        async with deps.database.session() as session:
            return {"sessions": await timed.queue_reminders(session, deps.clock.now())}

    return await run_logged(deps.database, "queue_reminders", deps.clock.now, work)


async def queue_feedback_requests(deps: JobDeps) -> Counts | None:
    """Queue feedback requests for sessions that ended (R19.1)."""

    async def work() -> Counts:
        async with deps.database.session() as session:
            return {"sessions": await timed.queue_feedback_requests(session, deps.clock.now())}

    return await run_logged(deps.database, "queue_feedback_requests", deps.clock.now, work)


async def auto_complete(deps: JobDeps) -> Counts | None:
    """Complete sessions whose end passed the grace period without news from Cal.com."""
    grace = timedelta(minutes=deps.settings.auto_complete_grace_minutes)

    async def work() -> Counts:
        async with deps.database.session() as session:
            return {"completed": await timed.auto_complete(session, deps.cache, deps.clock, grace)}

    return await run_logged(deps.database, "auto_complete", deps.clock.now, work)


async def deliver_webhooks(deps: JobDeps) -> Counts | None:
    """One pass of outbound webhook delivery and retries."""

    async def work() -> Counts:
        now = deps.clock.now()
        return {"attempted": await deliver_due(deps.database, deps.http, deps.box, now, deps.delivery_config)}

    return await run_logged(deps.database, "deliver_webhooks", deps.clock.now, work)


async def apply_calcom_inbox(deps: JobDeps) -> Counts | None:
    """Apply Cal.com webhooks still pending (waiting for their session, or cut short by a crash)."""

    async def work() -> Counts:
        return {
            "tried": await process_pending(
                InboxDeps(deps.database, deps.cache, deps.clock, deps.settings.cache_slots_ttl_seconds)
            )
        }

    return await run_logged(deps.database, "apply_calcom_inbox", deps.clock.now, work)


async def export_analytics(deps: JobDeps) -> Counts | None:
    """Send recorded product events to Mixpanel (or discard them when analytics is off)."""
    token = deps.settings.mixpanel_token.get_secret_value() if deps.settings.mixpanel_token else None
    config = MixpanelConfig(token=token or None, api_url=deps.settings.mixpanel_api_url)

    async def work() -> Counts:
        now = deps.clock.now()
        counts = await export_pending(deps.database, deps.http, config, now)
        async with deps.database.session() as session:
            await session.execute(delete(AnalyticsEvent).where(AnalyticsEvent.sent_at < now - ANALYTICS_KEEP))
        return counts

    return await run_logged(deps.database, "export_analytics", deps.clock.now, work)


_SYNC_COUNTS = ("mentors", "bookingsSeen", "bookingsApplied", "drifted", "relinkedMeanwhile", "failed")


async def sync_calcom(deps: JobDeps) -> Counts | None:
    """Every few minutes (R11.5, R3.2): per linked mentor, re-assert the 15-minute event type,
    apply the bookings Cal.com changed since the last sync, and recount the free slots."""
    since = await last_success(deps.database, "sync_calcom")
    since = (since - SYNC_OVERLAP) if since else deps.clock.now() - FIRST_SYNC_LOOKBACK

    async def work() -> Counts:
        counts = dict.fromkeys(_SYNC_COUNTS, 0)
        async with deps.database.session() as session:
            ids = list(
                await session.scalars(
                    select(StudentProfile.user_id)
                    .where(StudentProfile.calcom_username.is_not(None))
                    .order_by(StudentProfile.user_id)
                )
            )
        unreachable = 0
        for user_id in ids:
            try:
                await _sync_mentor(deps, user_id, since, counts)
            except (DependencyUnavailable, UpstreamTimeout) as exc:
                counts["failed"] += 1
                unreachable += 1
                log.warning("sync of %s: Cal.com unreachable: %s", user_id, exc.error_code)
            except ThotisError as exc:
                counts["failed"] += 1
                log.warning("sync of %s failed: %s %s", user_id, exc.error_code, exc.message)
        await _track_calcom_health(deps, down=bool(ids) and unreachable == len(ids))
        if ids and unreachable == len(ids):
            raise DependencyUnavailable("Cal.com was unreachable for every mentor", code="CALCOM_UNAVAILABLE")
        return counts

    return await run_logged(deps.database, "sync_calcom", deps.clock.now, work)


async def _sync_mentor(deps: JobDeps, user_id: str, since: datetime, counts: dict[str, int]) -> None:
    """Link and recount one mentor in one transaction that holds no lock on the mentor's row while
    Cal.com answers (three calls or more): a booking or webhook of the mentor writes their
    counters and would wait for all of them, and adopting a booking here while its webhook
    adopted it too deadlocked. The link found is written only if the row's link is still the one
    it was found for. The bookings reconciled are each committed on their own (`reconcile_mentor`),
    so they are recorded either way."""
    async with deps.database.session() as session:
        mentor = await session.get(StudentProfile, user_id)
        if mentor is None:
            return
        counts["mentors"] += 1
        field, was, read = mentor.field, mentor.calcom_link_status, _link_of(mentor)
        outcome = await deps.linker.link(mentor)
        if outcome.transient:
            raise DependencyUnavailable(outcome.error, code="CALCOM_UNAVAILABLE")
        if outcome.status is CalcomLinkStatus.LINKED:
            api_key = deps.linker.api_key_for(mentor)
            if api_key is not None:
                found = await reconcile_mentor(
                    deps.database, deps.calcom, api_key, mentor, since, deps.cache, deps.clock
                )
                counts["bookingsSeen"] += found.seen
                counts["bookingsApplied"] += found.applied
            await refresh_free_slot_count(deps.calcom, mentor, deps.clock.now())
        elif was == CalcomLinkStatus.LINKED.value:
            counts["drifted"] += 1
            log.warning("mentor %s: Cal.com link broken: %s", user_id, outcome.error)
        if await _link_now(session, user_id) not in (read, _link_of(mentor)):
            counts["relinkedMeanwhile"] += 1
            log.info("mentor %s: Cal.com link changed during the sync; link and slot count wait for the next", user_id)
            session.expire(mentor)  # drop what was found for the old link; the reconciled bookings stay
        invalidate_profile_after_commit(session, deps.cache, user_id, in_field=field)


#: The columns a mentor's Cal.com link is made of, as the sync reads them before asking Cal.com.
_LINK_COLUMNS = (
    StudentProfile.calcom_username,
    StudentProfile.calcom_api_key_encrypted,
    StudentProfile.calcom_user_id,
    StudentProfile.calcom_event_type_id,
    StudentProfile.calcom_link_status,
)


def _link_of(mentor: StudentProfile) -> tuple[Any, ...]:
    return tuple(getattr(mentor, column.key) for column in _LINK_COLUMNS)


async def _link_now(session: AsyncSession, user_id: str) -> tuple[Any, ...] | None:
    """The mentor's link columns as the row holds them, locking it until the commit (FOR NO KEY
    UPDATE: sessions inserted for the mentor need not wait) so that no profile change slips in
    before the sync writes. The sync's own changes are not flushed for this. The row may already
    hold what the sync found (another run found it too): that is no edit to keep."""
    with session.no_autoflush:
        now = (
            await session.execute(
                select(*_LINK_COLUMNS).where(StudentProfile.user_id == user_id).with_for_update(key_share=True)
            )
        ).one_or_none()
    return None if now is None else tuple(now)


async def _track_calcom_health(deps: JobDeps, *, down: bool) -> None:
    """Remember since when Cal.com is down; alert admins once it has been down long enough."""
    client = deps.redis.client
    if client is None:
        return
    key = deps.redis.key(CALCOM_DOWN_KEY)
    try:
        if not down:
            await client.delete(key)
            return
        now = deps.clock.now()
        await client.set(key, now.isoformat(), nx=True)
        raw = await client.get(key)
    except Exception as exc:  # Redis down too: the run log still records the failure
        log.warning("cannot track Cal.com's health in Redis: %s", exc)
        return
    since = datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else str(raw))
    if now - since >= timedelta(minutes=deps.settings.calcom_down_alert_minutes) and deps.settings.admin_emails:
        body = f"Cal.com has been unreachable from the Thotis sidecar since {since.isoformat(timespec='seconds')}."
        async with deps.database.session() as session:
            await alert_admins(session, deps.settings.admin_emails, f"calcom-down:{since.isoformat()}",
                               "Cal.com unreachable", body, now)  # fmt: skip


async def apply_retention(deps: JobDeps) -> Counts | None:
    """Anonymise prospective students' data past THOTIS_RETENTION_MONTHS (R14), raw webhooks too."""

    async def work() -> Counts:
        async with deps.database.session() as session:
            uids = await anonymise_expired(session, deps.clock.now(), deps.settings.retention_months)
            raw = await forget_raw_events(session, uids)
        return {"sessions": len(uids), "calcomEvents": raw}

    return await run_logged(deps.database, "apply_retention", deps.clock.now, work)


async def check_alerts(deps: JobDeps) -> Counts | None:
    """Alert admins about dead-lettered webhooks and an unreachable database."""
    admins = deps.settings.admin_emails

    async def work() -> Counts:
        now = deps.clock.now()
        try:
            async with deps.database.session() as session:
                await session.execute(text("SELECT 1"))
                queued = await dead_deliveries_alert(session, admins, now) if admins else 0
        except (OSError, DBAPIError) as exc:
            return {"alerts": await _database_down_alert(deps, exc)}
        return {"alerts": queued}

    return await run_logged(deps.database, "check_alerts", deps.clock.now, work)


async def _database_down_alert(deps: JobDeps, exc: Exception) -> int:
    """The database cannot hold the alert: send it straight over SMTP, at most once an hour."""
    admins, client = deps.settings.admin_emails, deps.redis.client
    if not admins or deps.mailer is None:
        return 0
    try:
        if client is not None and not await client.set(deps.redis.key("alert:database-down"), "1", nx=True, ex=3600):
            return 0
    except Exception:
        log.warning("Redis unavailable: alerting about the database without de-duplication")
    now, sent = deps.clock.now(), 0
    async with deps.mailer.connection() as connection:
        for admin in admins:
            context = alert_context(admin, "Database unreachable", f"The sidecar cannot reach PostgreSQL: {exc}")
            message = build_message(
                render_email(context, now),
                sender=deps.settings.email_from,
                to_email=admin,
                to_name="",
                message_id=message_id(f"alert:database-down:{int(now.timestamp())}:{admin}"),
            )
            await connection.send(message)
            sent += 1
    return sent

"""The taskiq tasks: thin, named, declared on the shared broker so no broker exists at import.

Each receives ids (or nothing), gets its dependencies from the broker's state, and runs the
plain job function of `jobs.work`.
"""

from __future__ import annotations

from typing import Annotated

from taskiq import Context, TaskiqDepends, async_shared_broker

from jobs import work
from jobs.deps import JobDeps


def _deps(context: Annotated[Context, TaskiqDepends()]) -> JobDeps:
    deps: JobDeps = context.state.deps
    return deps


Deps = Annotated[JobDeps, TaskiqDepends(_deps)]


@async_shared_broker.task(task_name="send_email")
async def send_email(deps: Deps, dedupe_keys: list[str] | None = None, email_ids: list[int] | None = None) -> None:
    """Send the emails one change queued, now (the nudge a service asks for after its commit).

    Nudges name the emails by dedupe key; `email_ids` is what processes before that sent, still
    understood while a rolling deploy drains them.
    """
    await work.send_emails(deps, ids=email_ids or (), keys=dedupe_keys or ())


@async_shared_broker.task(task_name="send_emails")
async def send_emails(deps: Deps) -> None:
    await work.send_emails(deps)


@async_shared_broker.task(task_name="queue_reminders")
async def queue_reminders(deps: Deps) -> None:
    await work.queue_reminders(deps)


@async_shared_broker.task(task_name="queue_feedback_requests")
async def queue_feedback_requests(deps: Deps) -> None:
    await work.queue_feedback_requests(deps)


@async_shared_broker.task(task_name="auto_complete")
async def auto_complete(deps: Deps) -> None:
    await work.auto_complete(deps)


@async_shared_broker.task(task_name="deliver_webhooks")
async def deliver_webhooks(deps: Deps) -> None:
    await work.deliver_webhooks(deps)


@async_shared_broker.task(task_name="apply_calcom_inbox")
async def apply_calcom_inbox(deps: Deps) -> None:
    await work.apply_calcom_inbox(deps)


@async_shared_broker.task(task_name="export_analytics")
async def export_analytics(deps: Deps) -> None:
    await work.export_analytics(deps)


@async_shared_broker.task(task_name="sync_calcom")
async def sync_calcom(deps: Deps) -> None:
    await work.sync_calcom(deps)


@async_shared_broker.task(task_name="check_alerts")
async def check_alerts(deps: Deps) -> None:
    await work.check_alerts(deps)


@async_shared_broker.task(task_name="apply_retention")
async def apply_retention(deps: Deps) -> None:
    await work.apply_retention(deps)

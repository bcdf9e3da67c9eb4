"""Exporting recorded events to Mixpanel's ingestion API, in batches, from a job.

Mixpanel drops a second copy of an event with the same `$insert_id`, so a batch re-sent after a
crash counts once. Without a token nothing is exported and recorded events are discarded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import delete, select, update

from core.database import Database
from thotis_ext.analytics.models import AnalyticsEvent

log = logging.getLogger(__name__)

#: Mixpanel's `/track` takes at most 50 events per request.
BATCH = 50


@dataclass(frozen=True, slots=True)
class MixpanelConfig:
    """Where and as which project to send events; `token=None` turns analytics off."""

    token: str | None
    api_url: str = "https://api.mixpanel.com"
    timeout_seconds: float = 10.0


def mixpanel_event(row: AnalyticsEvent, token: str) -> dict[str, Any]:
    """One event as Mixpanel's `/track` expects it."""
    return {
        "event": row.name,
        "properties": {
            **row.properties,
            "token": token,
            "distinct_id": row.distinct_id,
            "time": int(row.occurred_at.timestamp() * 1000),
            "$insert_id": row.insert_id,
            "feature": "thotis-mentoring",
        },
    }


async def export_pending(
    database: Database, http: httpx.AsyncClient, config: MixpanelConfig, now: datetime, *, max_batches: int = 20
) -> dict[str, int]:
    """Send unsent events (at most `max_batches` × 50 per run); counts of what was sent or discarded."""
    if not config.token:
        async with database.session() as session:
            result = await session.execute(delete(AnalyticsEvent).where(AnalyticsEvent.sent_at.is_(None)))
        return {"sent": 0, "discarded": int(getattr(result, "rowcount", 0) or 0), "failed": 0}
    sent = dropped = 0
    for _ in range(max_batches):
        async with database.session() as session:
            rows = list(
                await session.scalars(
                    select(AnalyticsEvent)
                    .where(AnalyticsEvent.sent_at.is_(None))
                    .order_by(AnalyticsEvent.id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            if not rows:
                break
            outcome = await _post(http, config, [mixpanel_event(row, config.token) for row in rows])
            if outcome == "retry":
                return {"sent": sent, "discarded": dropped, "failed": len(rows)}
            ids = [row.id for row in rows]
            if outcome == "drop":
                await session.execute(delete(AnalyticsEvent).where(AnalyticsEvent.id.in_(ids)))
                dropped += len(rows)
            else:
                await session.execute(update(AnalyticsEvent).where(AnalyticsEvent.id.in_(ids)).values(sent_at=now))
                sent += len(rows)
    return {"sent": sent, "discarded": dropped, "failed": 0}


async def _post(http: httpx.AsyncClient, config: MixpanelConfig, events: list[dict[str, Any]]) -> str:
    """POST one batch: "ok", "retry" (Mixpanel unreachable or failing) or "drop" (it refused the batch)."""
    try:
        response = await http.post(
            f"{config.api_url.rstrip('/')}/track",
            params={"verbose": "1", "ip": "0"},
            json=events,
            timeout=config.timeout_seconds,
        )
    except httpx.HTTPError as exc:
        log.warning("Mixpanel unreachable: %s", exc)
        return "retry"
    if response.status_code == 429 or response.status_code >= 500:
        log.warning("Mixpanel failing: HTTP %s", response.status_code)
        return "retry"
    try:
        accepted = response.status_code == 200 and response.json().get("status") == 1
    except ValueError:
        accepted = False
    if not accepted:  # a batch Mixpanel refuses would be refused for ever: analytics is best effort
        log.warning("Mixpanel refused a batch of %d events: %s", len(events), response.text[:200])
        return "drop"
    return "ok"

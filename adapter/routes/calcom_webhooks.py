"""POST /webhooks/calcom: Cal.com's webhooks, verified by `X-Cal-Signature-256` (no JWT).

Not rate limited: Cal.com sends each webhook once and never retries it, so a refused delivery
would be an event lost; the signature check is the gate. The raw body is verified first, the
event is stored once (a second delivery is acknowledged as a duplicate) and committed before the
answer, then applied to the sessions after the answer has gone (`webhooks_in.inbox`); a creation
still waiting for Thotis's own booking request to commit is left to the inbox sweep.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from litestar import Request, Response, post
from litestar.background_tasks import BackgroundTask
from litestar.openapi.datastructures import ResponseSpec

from adapter.envelope import Envelope, ok
from adapter.guards import services_of
from adapter.routes.docs import errors
from webhooks_in import inbox
from webhooks_in.parsing import parse_webhook
from webhooks_in.signature import CalcomSignatureVerifier

log = logging.getLogger(__name__)
MAX_WEBHOOK_BYTES = 1024 * 1024


@post(
    "/webhooks/calcom",
    tags=["webhooks"],
    status_code=200,
    request_max_body_size=MAX_WEBHOOK_BYTES,
    summary="Cal.com webhooks, verified with X-Cal-Signature-256 (hex HMAC-SHA256 of the raw body)",
    description="Answers `{received, duplicate, triggerEvent}`; a repeated delivery is acknowledged "
    "and changes nothing. Unknown triggers are stored and ignored.",
    responses={200: ResponseSpec(Envelope[dict[str, Any]]), **errors(400, 401, 413, api=False)},
)
async def receive(request: Request[Any, Any, Any]) -> Response[bytes]:
    services = services_of(request)
    body = await request.body()  # raw bytes first: the signature covers exactly these
    secret = services.settings.calcom_webhook_secret
    CalcomSignatureVerifier(secret.get_secret_value() if secret else None).verify(
        body, request.headers.get("x-cal-signature-256")
    )
    event = parse_webhook(body)
    tolerance = timedelta(seconds=services.settings.calcom_webhook_tolerance_seconds)
    now = services.clock.now()
    inbox.check_fresh(event, now, tolerance)
    async with services.database.autocommit_sessionmaker() as session:  # one INSERT: no BEGIN/COMMIT round trips
        recorded = await inbox.record(session, event, now)
    log.info("Cal.com webhook %s for %s%s", event.trigger, event.booking_uid or "-", "" if recorded else " (duplicate)")
    answer = {"received": True, "duplicate": recorded is None, "triggerEvent": event.trigger}
    response = ok(answer)
    # A creation waiting for Thotis's own booking request is left to the sweep: applying it now
    # would find no session yet, and its work would land beside that request's last steps.
    if recorded is not None and recorded.pending and not recorded.awaits_own_booking:
        deps = inbox.InboxDeps(
            services.database, services.cache, services.clock, services.settings.cache_slots_ttl_seconds
        )
        response.background = BackgroundTask(inbox.process, deps, recorded.id)
    return response

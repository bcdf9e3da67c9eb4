"""POST /webhooks/calcom: Cal.com's webhooks, verified by `X-Cal-Signature-256` (no JWT).

Not rate limited: Cal.com sends each webhook once and never retries it, so a refused delivery
would be an event lost; the signature check is the gate.

Today the route verifies and acknowledges; recording each event once and handing it to the
domain arrive with the webhooks issue.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.openapi.datastructures import ResponseSpec

from adapter.envelope import Envelope, ok
from adapter.guards import services_of
from adapter.routes.docs import errors
from core.errors import InvalidInput
from webhooks_in.signature import CalcomSignatureVerifier

log = logging.getLogger(__name__)
MAX_WEBHOOK_BYTES = 1024 * 1024


@post(
    "/webhooks/calcom",
    tags=["webhooks"],
    status_code=200,
    request_max_body_size=MAX_WEBHOOK_BYTES,
    summary="Cal.com webhooks, verified with X-Cal-Signature-256 (hex HMAC-SHA256 of the raw body)",
    responses={200: ResponseSpec(Envelope[dict[str, Any]]), **errors(400, 401, 413, api=False)},
)
async def receive(request: Request[Any, Any, Any]) -> Response[bytes]:
    body = await request.body()  # raw bytes first: the signature covers exactly these
    secret = services_of(request).settings.calcom_webhook_secret
    verifier = CalcomSignatureVerifier(secret.get_secret_value() if secret else None)
    verifier.verify(body, request.headers.get("x-cal-signature-256"))
    try:
        event = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise InvalidInput("The webhook body is not JSON.", code="MALFORMED_JSON") from None
    trigger = event.get("triggerEvent") if isinstance(event, dict) else None
    log.info("Cal.com webhook received: %s", trigger)
    return ok({"received": True, "triggerEvent": trigger})

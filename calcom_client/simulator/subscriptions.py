"""Webhook subscriptions (`/v2/webhooks`, `/v2/event-types/{id}/webhooks`) and `GET /v2/me`.

None of these routes is versioned: Cal.com registers them for every API version.
"""

from __future__ import annotations

from typing import Any

from calcom_client.simulator.errors import bad_request, conflict, forbidden, not_found
from calcom_client.simulator.http import Response
from calcom_client.simulator.outputs import me_output, webhook_output
from calcom_client.simulator.routing import Call, query_numbers, success
from calcom_client.simulator.state import Subscription
from calcom_client.simulator.validation import Checker

TRIGGERS = (
    "BOOKING_CREATED",
    "BOOKING_PAYMENT_INITIATED",
    "BOOKING_PAID",
    "BOOKING_RESCHEDULED",
    "BOOKING_REQUESTED",
    "BOOKING_CANCELLED",
    "BOOKING_REJECTED",
    "BOOKING_NO_SHOW_UPDATED",
    "FORM_SUBMITTED",
    "MEETING_ENDED",
    "MEETING_STARTED",
    "RECORDING_READY",
    "INSTANT_MEETING",
    "RECORDING_TRANSCRIPTION_GENERATED",
    "OOO_CREATED",
    "AFTER_HOSTS_CAL_VIDEO_NO_SHOW",
    "AFTER_GUESTS_CAL_VIDEO_NO_SHOW",
    "FORM_SUBMITTED_NO_EVENT",
)


def get_me(call: Call) -> Response:
    """`GET /v2/me`."""
    return success(200, me_output(call.caller()))


def _read(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    check = Checker(body)
    fields: dict[str, Any] = {
        "subscriber_url": check.string("subscriberUrl", required=creating),
        "active": check.boolean("active", required=creating),
        "payload_template": check.string("payloadTemplate"),
        "secret": check.string("secret"),
    }
    triggers = check.array("triggers", required=creating)
    if triggers is not None:
        if any(t not in TRIGGERS for t in triggers):
            check.errors.append(
                {
                    "target": dict(body),
                    "property": "triggers",
                    "value": triggers,
                    "children": [],
                    "constraints": {
                        "isEnum": "each value in triggers must be one of the following values: " + ", ".join(TRIGGERS)
                    },
                }
            )
        fields["triggers"] = [str(t) for t in triggers]
    check.raise_if_invalid()
    return {k: v for k, v in fields.items() if v is not None}


def _page(call: Call, subs: list[Subscription]) -> list[dict[str, Any]]:
    query = query_numbers(call.request.query, ("take", "skip"))
    check = Checker(query)
    take = check.integer("take", minimum=1) or 250
    skip = check.integer("skip", minimum=0) or 0
    check.raise_if_invalid()
    return [webhook_output(s) for s in subs[skip : skip + take]]


def create_user_webhook(call: Call) -> Response:
    """`POST /v2/webhooks` → 201; one subscription per (user, subscriberUrl)."""
    user = call.caller()
    fields = _read(call.json(), creating=True)
    taken = any(s.user_id == user.id and s.subscriber_url == fields["subscriber_url"] for s in _all(call))
    if taken:
        raise conflict("Webhook with this subscriber url already exists for this user")
    sub = Subscription(id=call.store.new_uuid(), user_id=user.id, **_defaults(fields))
    call.store.subscriptions[sub.id] = sub
    return success(201, webhook_output(sub))


def list_user_webhooks(call: Call) -> Response:
    """`GET /v2/webhooks`."""
    user = call.caller()
    return success(200, _page(call, [s for s in _all(call) if s.user_id == user.id]))


def _user_webhook(call: Call) -> Subscription:
    webhook_id = call.params["webhookId"]
    sub = call.store.subscriptions.get(webhook_id)
    if sub is None:
        raise not_found(f"Webhook ({webhook_id}) not found")
    if sub.user_id != call.caller().id:
        raise forbidden(f"User ({call.caller().id}) is not the owner of webhook ({webhook_id})")
    return sub


def get_user_webhook(call: Call) -> Response:
    """`GET /v2/webhooks/{webhookId}`."""
    return success(200, webhook_output(_user_webhook(call)))


def update_user_webhook(call: Call) -> Response:
    """`PATCH /v2/webhooks/{webhookId}`."""
    sub = _user_webhook(call)
    for name, value in _read(call.json(), creating=False).items():
        setattr(sub, name, value)
    return success(200, webhook_output(sub))


def delete_user_webhook(call: Call) -> Response:
    """`DELETE /v2/webhooks/{webhookId}` → the deleted subscription."""
    sub = _user_webhook(call)
    del call.store.subscriptions[sub.id]
    return success(200, webhook_output(sub))


def _event_type_id(call: Call) -> int:
    """The path's event type, which the caller must own (`IsUserEventTypeWebhookGuard`)."""
    raw = call.params["eventTypeId"]
    event_type = call.store.event_types.get(int(raw)) if raw.isdigit() else None
    if event_type is None:
        raise not_found(f"IsUserEventTypeWebhookGuard - Event type ({raw}) not found")
    if event_type.owner_id != call.caller().id:
        raise forbidden(
            f"IsUserEventTypeWebhookGuard - User ({call.caller().id}) is not the owner of event type ({raw})"
        )
    return event_type.id


def _event_type_webhook(call: Call) -> Subscription:
    event_type_id = _event_type_id(call)
    webhook_id = call.params["webhookId"]
    sub = call.store.subscriptions.get(webhook_id)
    if sub is None:
        raise not_found(f"Webhook ({webhook_id}) not found")
    if sub.event_type_id is None:
        raise bad_request(f"IsUserEventTypeWebhookGuard - Webhook ({webhook_id}) is not associated with an event type")
    if sub.event_type_id != event_type_id:
        raise forbidden(
            f"IsUserEventTypeWebhookGuard - Webhook ({webhook_id}) is not associated with event type ({event_type_id})"
        )
    return sub


def create_event_type_webhook(call: Call) -> Response:
    """`POST /v2/event-types/{eventTypeId}/webhooks` → 201."""
    event_type_id = _event_type_id(call)
    fields = _read(call.json(), creating=True)
    if any(s.event_type_id == event_type_id and s.subscriber_url == fields["subscriber_url"] for s in _all(call)):
        raise conflict("Webhook with this subscriber url already exists for this event type")
    sub = Subscription(id=call.store.new_uuid(), event_type_id=event_type_id, **_defaults(fields))
    call.store.subscriptions[sub.id] = sub
    return success(201, webhook_output(sub))


def list_event_type_webhooks(call: Call) -> Response:
    """`GET /v2/event-types/{eventTypeId}/webhooks`."""
    event_type_id = _event_type_id(call)
    return success(200, _page(call, [s for s in _all(call) if s.event_type_id == event_type_id]))


def get_event_type_webhook(call: Call) -> Response:
    """`GET /v2/event-types/{eventTypeId}/webhooks/{webhookId}`."""
    return success(200, webhook_output(_event_type_webhook(call)))


def update_event_type_webhook(call: Call) -> Response:
    """`PATCH /v2/event-types/{eventTypeId}/webhooks/{webhookId}`."""
    sub = _event_type_webhook(call)
    for name, value in _read(call.json(), creating=False).items():
        setattr(sub, name, value)
    return success(200, webhook_output(sub))


def delete_event_type_webhook(call: Call) -> Response:
    """`DELETE /v2/event-types/{eventTypeId}/webhooks/{webhookId}`."""
    sub = _event_type_webhook(call)
    del call.store.subscriptions[sub.id]
    return success(200, webhook_output(sub))


def delete_all_event_type_webhooks(call: Call) -> Response:
    """`DELETE /v2/event-types/{eventTypeId}/webhooks` → `"<n> webhooks deleted"`."""
    event_type_id = _event_type_id(call)
    doomed = [s.id for s in _all(call) if s.event_type_id == event_type_id]
    for webhook_id in doomed:
        del call.store.subscriptions[webhook_id]
    return success(200, f"{len(doomed)} webhooks deleted")


def _all(call: Call) -> list[Subscription]:
    return list(call.store.subscriptions.values())


def _defaults(fields: dict[str, Any]) -> dict[str, Any]:
    return {"payload_template": None, "secret": None, **fields}

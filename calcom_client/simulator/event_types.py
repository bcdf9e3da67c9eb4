"""`/v2/event-types` (cal-api-version 2024-06-14): create, get, list, update, delete."""

from __future__ import annotations

from typing import Any

from calcom_client.simulator.errors import bad_request, forbidden, not_found
from calcom_client.simulator.http import Response
from calcom_client.simulator.outputs import DEFAULT_FIELD_SLUGS, event_type_output
from calcom_client.simulator.routing import Call, success
from calcom_client.simulator.state import EventType, User
from calcom_client.simulator.validation import Checker

INPUT_INTEGRATIONS = ("cal-video", "google-meet", "office365-video", "zoom")
LOCATION_TYPES = ("address", "link", "integration", "phone", "attendeeAddress", "attendeePhone", "attendeeDefined")


def _read_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The event-type fields the simulator models, validated; unknown fields are dropped."""
    check = Checker(body)
    fields: dict[str, Any] = {
        "length": check.integer("lengthInMinutes", required=creating, minimum=1),
        "title": check.string("title", required=creating),
        "slug": check.string("slug", required=creating),
        "description": check.string("description"),
        "slot_interval": check.integer("slotInterval", minimum=1),
        "minimum_booking_notice": check.integer("minimumBookingNotice", minimum=0),
        "before_event_buffer": check.integer("beforeEventBuffer", minimum=0),
        "after_event_buffer": check.integer("afterEventBuffer", minimum=0),
        "disable_guests": check.boolean("disableGuests"),
        "lock_time_zone_toggle": check.boolean("lockTimeZoneToggleOnBookingPage"),
    }
    options = check.array("lengthInMinutesOptions")
    if options is not None:
        fields["length_options"] = [int(o) for o in options if str(o).isdigit()]
    locations = check.array("locations")
    if locations is not None:
        fields["locations"] = _read_locations(check, locations)
    booking_fields = check.array("bookingFields")
    if booking_fields is not None:
        fields["booking_fields"] = _read_booking_fields(check, booking_fields)
    check.raise_if_invalid()
    return {k: v for k, v in fields.items() if v is not None}


def _read_booking_fields(check: Checker, raw: list[Any]) -> list[dict[str, Any]]:
    """Default fields need only their `slug`; custom fields need `type`, `slug`, `label`, `required`."""
    read: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        field_check = Checker(item if isinstance(item, dict) else {})
        slug = field_check.string("slug", required=True)
        if slug is not None and slug not in DEFAULT_FIELD_SLUGS:
            field_check.string("type", required=True)
            field_check.string("label", required=True)
            field_check.boolean("required", required=True)
        check.nested(f"bookingFields.{index}", field_check)
        if not field_check.errors:
            read.append(dict(item))
    return read


def _read_locations(check: Checker, locations: list[Any]) -> list[dict[str, Any]]:
    valid = all(
        isinstance(loc, dict)
        and loc.get("type") in LOCATION_TYPES
        and (loc.get("type") != "integration" or loc.get("integration") in INPUT_INTEGRATIONS)
        for loc in locations
    )
    if not valid:
        check.errors.append(
            {
                "target": dict(check.data),
                "property": "locations",
                "value": locations,
                "children": [],
                "constraints": {
                    "ValidateLocations_2024_06_14": "Invalid locations. Integration locations must be one of: "
                    + ", ".join(INPUT_INTEGRATIONS)
                },
            }
        )
        return []
    return [dict(loc) for loc in locations]


def create_event_type(call: Call) -> Response:
    """`POST /v2/event-types` → 201."""
    fields = _read_fields(call.json(), creating=True)
    event_type = call.service.create_event_type(call.caller(), **fields)
    return success(201, event_type_output(event_type, call.caller()))


def get_event_type(call: Call) -> Response:
    """`GET /v2/event-types/{eventTypeId}`: only the caller's own event types."""
    raw = call.params["eventTypeId"]
    event_type = call.store.event_types.get(int(raw)) if raw.isdigit() else None
    if event_type is None or event_type.owner_id != call.caller().id:
        raise not_found(f"Event type with id {raw} not found")
    return success(200, event_type_output(event_type, call.caller()))


def list_event_types(call: Call) -> Response:
    """`GET /v2/event-types?username=…[&eventSlug=…]`; an empty result is a 404, not `[]`."""
    query = call.request.query
    username = query.get("username")
    owner: User | None = call.store.user_by_username(username) if username else call.user
    found: list[EventType] = []
    if owner is not None:
        found = [et for et in call.store.event_types.values() if et.owner_id == owner.id]
        slug = query.get("eventSlug")
        if slug and username:
            found = [et for et in found if et.slug == slug]
    if owner is None or not found:
        raise not_found("Event types not found")
    data = []
    for event_type in sorted(found, key=lambda et: et.id):
        output = event_type_output(event_type, owner)
        output["bookingFields"] = [f for f in output["bookingFields"] if f.get("hidden") is not True]
        data.append(output)
    return success(200, data)


def _owned_for_write(call: Call) -> EventType:
    event_type_id = call.path_int("eventTypeId")
    event_type = call.store.event_types.get(event_type_id)
    if event_type is None:
        raise not_found(f"Event type with id {event_type_id} not found")
    if event_type.owner_id != call.caller().id:
        raise forbidden(f"User with id={call.caller().id} does not own event type with id={event_type_id}")
    return event_type


def update_event_type(call: Call) -> Response:
    """`PATCH /v2/event-types/{eventTypeId}` → 200 with the whole updated event type."""
    event_type = _owned_for_write(call)
    fields = _read_fields(call.json(), creating=False)
    owner = call.caller()
    if "locations" in fields:
        call.service.check_locations(owner, fields["locations"])
    new_slug = fields.get("slug")
    if new_slug and new_slug != event_type.slug:
        clash = any(
            et.owner_id == owner.id and et.slug == new_slug and et.id != event_type.id
            for et in call.store.event_types.values()
        )
        if clash:
            raise bad_request("User already has an event type with this slug.")
    for name, value in fields.items():
        setattr(event_type, name, value)
    return success(200, event_type_output(event_type, owner))


def delete_event_type(call: Call) -> Response:
    """`DELETE /v2/event-types/{eventTypeId}` → `{id, lengthInMinutes, title, slug}`."""
    event_type = _owned_for_write(call)
    del call.store.event_types[event_type.id]
    data = {
        "id": event_type.id,
        "lengthInMinutes": event_type.length,
        "title": event_type.title,
        "slug": event_type.slug,
    }
    return success(200, data)

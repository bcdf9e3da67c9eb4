"""`GET /v2/slots` (cal-api-version 2024-09-04, no auth): free slots keyed by day."""

from __future__ import annotations

from datetime import timedelta

from calcom_client.simulator.errors import bad_request, not_found
from calcom_client.simulator.http import Response
from calcom_client.simulator.routing import Call, query_numbers, success
from calcom_client.simulator.schedules import group_slots
from calcom_client.simulator.state import EventType
from calcom_client.simulator.timefmt import parse_iso
from calcom_client.simulator.validation import Checker


def get_slots(call: Call) -> Response:
    """Slots of one event type between `start` and `end`, in `timeZone` (UTC by default).

    `format=range` adds `end` (= start + `duration` or the event length); a bare `end` date means
    the end of that day; `bookingUidToReschedule` frees that booking's own time.
    """
    query = query_numbers(call.request.query, ("eventTypeId", "duration"))
    check = Checker(query)
    check.date_string("start", required=True)
    check.date_string("end", required=True)
    time_zone = check.time_zone("timeZone")
    slot_format = check.choice("format", ("time", "range"))
    duration = check.integer("duration", minimum=1)
    event_type_id = check.integer("eventTypeId")
    check.raise_if_invalid()

    event_type = _event_type(call, event_type_id)
    start = parse_iso(str(query["start"]))
    end = parse_iso(str(query["end"]), end_of_day=True)
    if start is None or end is None:  # pragma: no cover - validated above
        raise bad_request("Invalid start date")
    slots = call.service.available_slots(
        event_type, start, end, length=duration, exclude_uid=query.get("bookingUidToReschedule") or None
    )
    range_length = timedelta(minutes=duration or event_type.length) if slot_format == "range" else None
    return success(200, group_slots(slots, time_zone=time_zone, range_length=range_length))


def _event_type(call: Call, event_type_id: int | None) -> EventType:
    query = call.request.query
    if event_type_id is not None:
        found = call.store.event_types.get(event_type_id)
    elif query.get("eventTypeSlug") and query.get("username"):
        user = call.store.user_by_username(query["username"])
        if user is None:
            raise not_found(f"User with username {query['username']} not found")
        found = next(
            (
                et
                for et in call.store.event_types.values()
                if et.owner_id == user.id and et.slug == query["eventTypeSlug"]
            ),
            None,
        )
    else:
        # Dynamic (multi-user) and team event types are not modelled by the simulator.
        raise bad_request("Provide eventTypeId, or eventTypeSlug with username.")
    if found is None:
        raise not_found("Event Type not found")
    return found

"""Linking a mentor to Cal.com (R1.1, R3.2): check the identity, provision or adopt the
mentor's 15-minute Google Meet event type, and record the outcome on the profile.

A failed link never loses the profile: the failure is stored (`calcom_link_status = error`,
with a plain-words reason) and shown to the mentor and admins, and linking can be retried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from calcom_client import GOOGLE_MEET, CalcomBadRequest, CalcomClient, CalcomError, EventType, EventTypeFields
from core.crypto import SecretBox
from thotis_ext import rules
from thotis_ext.calcom_errors import as_thotis_error
from thotis_ext.enums import CalcomLinkStatus
from thotis_ext.models import StudentProfile

log = logging.getLogger(__name__)

#: The slug of every mentor's Thotis event type, so an existing one is adopted, not duplicated.
THOTIS_EVENT_SLUG = "thotis-15"
MINIMUM_NOTICE_MINUTES = 120


def thotis_event_type() -> EventTypeFields:
    """The one event type every mentor has: 15 minutes, Google Meet, 2 h notice, 15-min grid (R3)."""
    return EventTypeFields(
        title="Thotis — 15 min Q&A",
        slug=THOTIS_EVENT_SLUG,
        length_in_minutes=rules.SESSION_MINUTES,
        description="A free 15-minute video Q&A with a university student, booked through Thotis.",
        locations=[GOOGLE_MEET],
        minimum_booking_notice=MINIMUM_NOTICE_MINUTES,
        slot_interval=rules.SESSION_MINUTES,
    )


def drifted(event_type: EventType) -> bool:
    """True when the event type no longer has the rules of R3 (someone edited it in Cal.com)."""
    meet = any(location.integration == GOOGLE_MEET["integration"] for location in event_type.locations)
    return (
        event_type.length_in_minutes != rules.SESSION_MINUTES
        or event_type.minimum_booking_notice != MINIMUM_NOTICE_MINUTES
        or (event_type.slot_interval not in (None, rules.SESSION_MINUTES))
        or not meet
    )


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    """What linking did: the status stored and, on failure, why."""

    status: CalcomLinkStatus
    error: str | None = None
    adopted: bool = False


class CalcomLinker:
    """Provisions mentors' event types with their own Cal.com API key (or the organisation key)."""

    def __init__(self, client: CalcomClient, box: SecretBox, organisation_key: str | None = None) -> None:
        self.client = client
        self.box = box
        self.organisation_key = organisation_key

    def api_key_for(self, profile: StudentProfile) -> str | None:
        """The key that acts for this mentor: their own, else the organisation's."""
        if profile.calcom_api_key_encrypted:
            return self.box.decrypt(profile.calcom_api_key_encrypted)
        return self.organisation_key

    async def link(self, profile: StudentProfile) -> LinkOutcome:
        """Check the identity and make sure the 15-minute event type exists; record the result."""
        outcome = await self._link(profile)
        profile.calcom_link_status = outcome.status.value
        profile.calcom_link_error = outcome.error
        return outcome

    async def _link(self, profile: StudentProfile) -> LinkOutcome:
        if not profile.calcom_username:
            return LinkOutcome(CalcomLinkStatus.UNLINKED)
        key = self.api_key_for(profile)
        if key is None:
            return LinkOutcome(CalcomLinkStatus.ERROR, "No Cal.com API key: give the mentor's apiKey.")
        try:
            me = await self.client.me(key)
            if me.username and me.username != profile.calcom_username:
                return LinkOutcome(
                    CalcomLinkStatus.ERROR,
                    f"The API key belongs to Cal.com user {me.username!r}, not {profile.calcom_username!r}.",
                )
            existing = await self.client.list_event_types(
                username=profile.calcom_username, event_slug=THOTIS_EVENT_SLUG, api_key=key
            )
            adopted = next((et for et in existing if et.slug == THOTIS_EVENT_SLUG), None)
            if adopted is None:
                event_type = await self.client.create_event_type(key, thotis_event_type())
            elif drifted(adopted):
                event_type = await self.client.update_event_type(key, adopted.id, thotis_event_type())
            else:
                event_type = adopted
        except CalcomBadRequest as exc:
            if "not connected" in exc.message.lower():
                return LinkOutcome(
                    CalcomLinkStatus.ERROR,
                    "Google Meet is not connected in this Cal.com account: connect Google Calendar and Meet.",
                )
            return LinkOutcome(CalcomLinkStatus.ERROR, f"Cal.com refused the event type: {exc.message[:200]}")
        except CalcomError as exc:
            mapped = as_thotis_error(exc)
            log.warning("linking %s to Cal.com failed: %s", profile.user_id, mapped.error_code)
            return LinkOutcome(CalcomLinkStatus.ERROR, mapped.message)
        profile.calcom_user_id = me.id
        profile.calcom_event_type_id = event_type.id
        return LinkOutcome(CalcomLinkStatus.LINKED, adopted=adopted is not None)

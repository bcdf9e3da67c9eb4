"""Linking a mentor to Cal.com (R1.1, R3.2): check the identity, provision or adopt the
mentor's 15-minute Google Meet event type, and record the outcome on the profile.

A failed link never loses the profile: the failure is stored (`calcom_link_status = error`,
with a plain-words reason) and shown to the mentor and admins, and linking can be retried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from calcom_client import GOOGLE_MEET, CalcomBadRequest, CalcomClient, CalcomError, EventType, EventTypeFields
from core.crypto import SecretBox
from core.errors import DependencyUnavailable, UpstreamTimeout
from thotis_ext import rules
from thotis_ext.calcom_errors import as_thotis_error
from thotis_ext.enums import CalcomLinkStatus
from thotis_ext.models import StudentProfile

if TYPE_CHECKING:
    from thotis_ext.profiles.booking_target import BookingTarget

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


def _thotis_event_type_in(event_types: list[EventType]) -> EventType | None:
    return next((et for et in event_types if et.slug == THOTIS_EVENT_SLUG), None)


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    """What linking did: the status stored and, on failure, why."""

    status: CalcomLinkStatus
    error: str | None = None
    adopted: bool = False
    #: Cal.com could not be reached or was too slow: says nothing about the link itself.
    transient: bool = False


class CalcomLinker:
    """Provisions mentors' event types with their own Cal.com API key (or the organisation key)."""

    def __init__(self, client: CalcomClient, box: SecretBox, organisation_key: str | None = None) -> None:
        self.client = client
        self.box = box
        self.organisation_key = organisation_key

    def api_key_for(self, profile: StudentProfile | BookingTarget) -> str | None:
        """The key that acts for this mentor: their own, else the organisation's."""
        if profile.calcom_api_key_encrypted:
            return self.box.decrypt(profile.calcom_api_key_encrypted)
        return self.organisation_key

    async def link(self, profile: StudentProfile) -> LinkOutcome:
        """Check the identity and make sure the 15-minute event type exists; record the result.

        A linked mentor stays linked when Cal.com is merely unreachable: an outage is not a broken
        link, and unlinking would stop their bookings after it ends.
        """
        outcome = await self._link(profile)
        if outcome.transient and profile.calcom_link_status == CalcomLinkStatus.LINKED.value:
            return outcome
        profile.calcom_link_status = outcome.status.value
        profile.calcom_link_error = outcome.error
        return outcome

    async def _link(self, profile: StudentProfile) -> LinkOutcome:
        if not profile.calcom_username:
            return LinkOutcome(CalcomLinkStatus.UNLINKED)
        own_key = self.box.decrypt(profile.calcom_api_key_encrypted) if profile.calcom_api_key_encrypted else None
        if own_key is None and self.organisation_key is None:
            return LinkOutcome(CalcomLinkStatus.ERROR, "No Cal.com API key: give the mentor's apiKey.")
        try:
            if own_key is None:  # the organisation key: `me` would be the organisation's admin
                existing = await self.client.list_event_types(
                    username=profile.calcom_username, event_slug=THOTIS_EVENT_SLUG, api_key=self.organisation_key
                )
                return self._adopt_with_organisation_key(profile, _thotis_event_type_in(existing))
            me = await self.client.me(own_key)
            if me.username and me.username != profile.calcom_username:
                return LinkOutcome(
                    CalcomLinkStatus.ERROR,
                    f"The API key belongs to Cal.com user {me.username!r}, not {profile.calcom_username!r}.",
                )
            existing = await self.client.list_event_types(
                username=profile.calcom_username, event_slug=THOTIS_EVENT_SLUG, api_key=own_key
            )
            adopted = _thotis_event_type_in(existing)
            if adopted is None:
                event_type = await self.client.create_event_type(own_key, thotis_event_type())
            elif drifted(adopted):
                event_type = await self.client.update_event_type(own_key, adopted.id, thotis_event_type())
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
            transient = isinstance(mapped, DependencyUnavailable | UpstreamTimeout)
            return LinkOutcome(CalcomLinkStatus.ERROR, mapped.message, transient=transient)
        profile.calcom_user_id = me.id
        profile.calcom_event_type_id = event_type.id
        return LinkOutcome(CalcomLinkStatus.LINKED, adopted=adopted is not None)

    @staticmethod
    def _adopt_with_organisation_key(profile: StudentProfile, found: EventType | None) -> LinkOutcome:
        """Link with the organisation key alone: adopt the member's `thotis-15` as it is.

        Cal.com API v2 has no organisation endpoint that creates or edits a member's personal event
        type (calcom-contract.md §2 C), so the mentor makes it once; bookings, cancellations and
        reschedules then work with the organisation key.
        """
        if found is None:
            return LinkOutcome(
                CalcomLinkStatus.ERROR,
                f"Cal.com user {profile.calcom_username!r} has no '{THOTIS_EVENT_SLUG}' event type, and the "
                "organisation key cannot create one: create it in Cal.com (15 minutes, Google Meet, 2 hours "
                "minimum notice) or give the mentor's own apiKey.",
            )
        if drifted(found):
            return LinkOutcome(
                CalcomLinkStatus.ERROR,
                f"The '{THOTIS_EVENT_SLUG}' event type must last 15 minutes, use Google Meet and need 2 hours "
                "notice; fix it in Cal.com or give the mentor's own apiKey so Thotis can.",
            )
        profile.calcom_user_id = found.owner_id
        profile.calcom_event_type_id = found.id
        return LinkOutcome(CalcomLinkStatus.LINKED, adopted=True)

"""What booking a mentor needs of their profile, cached as one more view of it.

Availability reads it on every request, and a booking before it calls Cal.com. Cached (in the
process when hot, else in Redis), neither waits on PostgreSQL: a booking used to open its
transaction (BEGIN, then a SELECT of the whole profile) only to read these four values, two round
trips that under load were a tail of their own. The Cal.com key stays encrypted (Fernet) in the
cache, as in the database; every change of the profile drops the view (`profile_cache_keys`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import msgspec

from core.cache import Cache
from core.errors import Conflict
from thotis_ext.enums import CalcomLinkStatus
from thotis_ext.models import StudentProfile
from thotis_ext.profiles.repository import ProfileRepository
from thotis_ext.profiles.service import ProfileNotFound, booking_target_key, check_user_id

#: Opens a profile repository for one read, e.g. `ProfileReads.repository` (a session of its own)
#: or `lambda: nullcontext(ProfileRepository(session))` (the caller's session).
Repositories = Callable[[], AbstractAsyncContextManager[ProfileRepository]]


class MentorNotBookable(Conflict):
    code = "MENTOR_NOT_BOOKABLE"
    default_message = "This mentor is not linked to Cal.com yet, so no slots can be offered."


@dataclass(frozen=True, slots=True)
class BookingTarget:
    """A public mentor linked to Cal.com: whose event type to book, with which key (named as on
    `StudentProfile`, so either serves `CalcomLinker.api_key_for` and the sessions' invalidation)."""

    user_id: str
    field: str | None
    calcom_event_type_id: int
    calcom_api_key_encrypted: str | None


def check_bookable(profile: StudentProfile | None) -> StudentProfile:
    """`profile`, if a prospective student may book it: the one rule for the cached target and
    for the row a booking reads again.

    Raises:
        ProfileNotFound: no such profile, or one not public (inactive or incomplete).
        MentorNotBookable: not linked to Cal.com.
    """
    if profile is None or not (profile.is_active and profile.is_complete):
        raise ProfileNotFound()
    if profile.calcom_link_status != CalcomLinkStatus.LINKED.value or profile.calcom_event_type_id is None:
        raise MentorNotBookable()
    return profile


def _view(profile: StudentProfile | None) -> dict[str, Any]:
    try:
        profile = check_bookable(profile)
    except ProfileNotFound:
        return {"state": "missing"}
    except MentorNotBookable:
        return {"state": "unlinked"}
    return {
        "state": "bookable",
        "userId": profile.user_id,
        "field": profile.field,
        "eventTypeId": profile.calcom_event_type_id,
        "apiKey": profile.calcom_api_key_encrypted,
    }


class BookingTargets:
    """Booking targets through the profile cache; a miss reads the profile in a short session."""

    def __init__(self, repositories: Repositories, cache: Cache, *, ttl_seconds: int) -> None:
        self.repositories = repositories
        self.cache = cache
        self.ttl_seconds = ttl_seconds

    async def get(self, user_id: str) -> BookingTarget:
        """Raises:
        InvalidUserId, ProfileNotFound (unknown, inactive or incomplete), MentorNotBookable
        """
        check_user_id(user_id)

        async def load() -> dict[str, Any]:
            async with self.repositories() as repo:
                return _view(await repo.get(user_id))

        view = msgspec.json.decode(await self.cache.get_or_load(booking_target_key(user_id), load, self.ttl_seconds))
        if view["state"] == "bookable" and "userId" not in view:  # cached by an earlier version: read afresh
            view = await load()
        if view["state"] == "missing":
            raise ProfileNotFound()
        if view["state"] == "unlinked":
            raise MentorNotBookable()
        return BookingTarget(view["userId"], view["field"], int(view["eventTypeId"]), view["apiKey"])

"""Profile use cases: load, apply rules, write, and invalidate caches after commit.

The service flushes but never commits; the request (or task) that called it commits once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic.alias_generators import to_camel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.cache import Cache, Expiring
from core.crypto import SecretBox
from core.database import after_commit
from core.errors import Conflict, InvalidInput, NotFound
from thotis_ext import rules
from thotis_ext.analytics.tracking import mentor_properties, track
from thotis_ext.calcom_link import CalcomLinker
from thotis_ext.enums import AcademicField, CalcomLinkStatus
from thotis_ext.models import StudentProfile
from thotis_ext.photos import ProcessedPhoto, process_photo
from thotis_ext.profiles.repository import ProfileRepository
from thotis_ext.profiles.schemas import (
    REQUIRED_FIELDS,
    CalcomLinkInput,
    ProfileCreate,
    ProfileFields,
    ProfileUpdate,
)
from thotis_ext.profiles.views import private_view

#: Cache group of the list pages with no field filter (and of the universities).
LIST_GROUP = "profile-lists"


def list_group(field: str | None) -> str:
    """Cache group of the list pages filtered by `field`; `LIST_GROUP` for the unfiltered ones.

    Pages are grouped by field so a booking, which moves one mentor's counts, drops only the pages
    that can show that mentor, not the other fields' pages.
    """
    return LIST_GROUP if field is None else f"{LIST_GROUP}:{field}"


#: Every list group: what a change of a profile's own fields (its field among them) drops.
ALL_LIST_GROUPS = (LIST_GROUP, *(list_group(field.value) for field in AcademicField))


class ProfileNotFound(NotFound):
    code = "PROFILE_NOT_FOUND"
    default_message = "No such mentor profile."


class ProfileExists(Conflict):
    code = "PROFILE_EXISTS"
    default_message = "This mentor already has a profile; update it with PUT."


class InvalidUserId(InvalidInput):
    code = "INVALID_USER_ID"
    default_message = "The user id must be 1–128 letters, digits or . _ : @ - characters."


@dataclass(frozen=True, slots=True)
class ProfileConfig:
    """What the profile service needs from settings."""

    profile_ttl_seconds: int = 300
    list_ttl_seconds: int = 60
    media_base_url: str = "/media"
    photo_max_bytes: int = 5 * 1024 * 1024
    photo_max_pixels: int = 40_000_000
    max_page_size: int = 50


def booking_target_key(user_id: str) -> str:
    """Cache key of what availability needs of a profile: is it bookable, and its event type."""
    return profile_key(user_id, "booking")


def profile_key(user_id: str, audience: str) -> str:
    """Cache key of one view (public, private, booking, stats) of a profile."""
    return f"profile:{user_id}:{audience}"


def profile_cache_keys(user_id: str) -> tuple[str, ...]:
    """Every cached view of one profile, for invalidation by whoever changes it."""
    return tuple(profile_key(user_id, view) for view in ("public", "private", "booking", "stats"))


def invalidate_profile_after_commit(
    session: AsyncSession,
    cache: Cache,
    user_id: str,
    *groups: str,
    in_field: str | None = None,
    add: Expiring | None = None,
    counters_only: bool = False,
) -> None:
    """Once the transaction commits, drop every cached view of the profile, the list pages that
    can show it (its counts and rating order them) and any further `groups` (e.g. its slots).

    `in_field`: the mentor's academic field, when the change cannot move the mentor to another
    field (a booking, a cancellation, a slot recount); only that field's pages and the unfiltered ones go.
    Without it, every list page goes.
    `add`: members added first, in the same round trip (a booking's withheld slot); when Redis is
    away and they cannot be, their group goes too.
    `counters_only`: the change moved only the mentor's counters (a session booked, cancelled or
    completed, a slot recount): the booking target, which holds none of them, stays cached, so the
    next booking and availability read of the mentor need no database read for it.
    """
    lists = (LIST_GROUP, list_group(in_field)) if in_field is not None else ALL_LIST_GROUPS
    keys = profile_cache_keys(user_id)
    if counters_only:
        keys = tuple(key for key in keys if key != booking_target_key(user_id))

    async def invalidate() -> None:
        if not await cache.invalidate(keys, (*lists, *groups), add=add) and add is not None:
            await cache.invalidate(groups=(add.group,))

    # Keyed by what it drops: a change that drops every list in the same transaction as one that
    # drops a field's lists registers its own callback instead of being absorbed by the first.
    after_commit(session, invalidate, key=("profile-caches", user_id, *lists, *groups, add, counters_only))


def check_user_id(user_id: str) -> None:
    """Raises:
    InvalidUserId: the id cannot be a Thotis user id.
    """
    if not rules.is_valid_user_id(user_id):
        raise InvalidUserId(details={"userId": user_id[:64]})


class ProfileService:
    """Mentor profiles (R1, R4, R18) over one database session."""

    def __init__(
        self,
        session: AsyncSession,
        cache: Cache,
        box: SecretBox,
        config: ProfileConfig,
        linker: CalcomLinker | None = None,
    ) -> None:
        self.session = session
        self.repo = ProfileRepository(session)
        self.cache = cache
        self.box = box
        self.config = config
        self.linker = linker

    async def create(self, user_id: str, data: ProfileCreate) -> dict[str, Any]:
        """Create a mentor's profile (R1.1).

        Raises:
            InvalidUserId, ProfileExists
        """
        check_user_id(user_id)
        if await self.repo.exists(user_id):
            raise ProfileExists()
        profile = StudentProfile(
            user_id=user_id, name=data.name, email=str(data.email), locale=data.locale.value, is_active=True
        )
        self._apply_fields(profile, data, data.model_fields_set)
        self.repo.add(profile)
        try:
            await self.session.flush()
        except IntegrityError as exc:  # a concurrent create of the same id won the race
            raise ProfileExists() from exc
        await self._link_if_asked(profile, data)
        await self.session.refresh(profile)
        track(self.session, "profile_created", f"mentor:{user_id}", mentor_properties(profile), datetime.now(UTC))
        self._invalidate_after_commit(user_id)
        return private_view(profile, self.config.media_base_url)

    async def update(self, user_id: str, data: ProfileUpdate) -> dict[str, Any]:
        """Update the given fields; the others keep their value (R1.2, R8.4).

        Raises:
            ProfileNotFound, InvalidInput (a required field set to null), Conflict CALCOM_ACCOUNT_TAKEN
        """
        linking = self._links(data)
        # Linking asks Cal.com (three calls or more): the row is locked only once Cal.com has
        # answered (`_link`), so the mentor's bookings and webhooks, which move its counters, never
        # wait for Cal.com behind this edit. Without a link, nothing is slow: lock at once.
        profile = await (self._load(user_id) if linking else self._load_for_update(user_id))
        provided = data.model_fields_set
        cleared = [
            name
            for name in (*REQUIRED_FIELDS, "name", "email", "locale")
            if name in provided and getattr(data, name) is None
        ]
        if cleared:
            raise InvalidInput(
                "Required fields cannot be cleared.",
                details={"errors": [{"field": to_camel(name), "message": "cannot be null"} for name in cleared]},
            )
        for name in ("name", "email", "locale"):
            if name in provided:
                value = getattr(data, name)
                setattr(profile, name, getattr(value, "value", str(value)))
        self._apply_fields(profile, data, provided)
        if linking:
            await self._link(profile)
        else:
            await self.session.flush()
        await self.session.refresh(profile)
        self._invalidate_after_commit(user_id)
        return private_view(profile, self.config.media_base_url)

    def _links(self, data: ProfileFields) -> bool:
        """Whether the body carries a `calcom` link to provision (R1.1)."""
        return self.linker is not None and "calcom" in data.model_fields_set and data.calcom is not None

    async def _link_if_asked(self, profile: StudentProfile, data: ProfileFields) -> None:
        if self._links(data):
            await self._link(profile)

    async def _link(self, profile: StudentProfile) -> None:
        """Provision the Cal.com event type, then write the profile's changes with it: nothing is
        flushed while Cal.com answers, and the row is locked only after it has, so the edit and its
        link still commit or fail together.

        Raises:
            ProfileNotFound (removed meanwhile), Conflict CALCOM_ACCOUNT_TAKEN
        """
        assert self.linker is not None
        with self.session.no_autoflush:  # the loaded profile keeps its pending changes
            await self.linker.link(profile)
            await self._load_for_update(profile.user_id)
        try:
            await self.session.flush()
        except IntegrityError as exc:  # the Cal.com user or event type is linked to another mentor
            raise Conflict(
                "This Cal.com account is already linked to another mentor.", code="CALCOM_ACCOUNT_TAKEN"
            ) from exc

    async def relink(self, user_id: str) -> dict[str, Any]:
        """Check the Cal.com link again and re-assert the 15-minute event type (R3.2).

        Raises:
            ProfileNotFound, Conflict CALCOM_ACCOUNT_TAKEN
        """
        profile = await self._load(user_id)  # locked once Cal.com has answered (`_link`)
        if self.linker is not None:
            await self._link(profile)
        await self.session.refresh(profile)
        self._invalidate_after_commit(user_id)
        return private_view(profile, self.config.media_base_url)

    async def set_active(self, user_id: str, is_active: bool) -> dict[str, Any]:
        """Activate or deactivate a profile (R1.4); inactive mentors vanish from every list."""
        profile = await self._load_for_update(user_id)
        profile.is_active = is_active
        await self.session.flush()
        await self.session.refresh(profile)
        self._invalidate_after_commit(user_id)
        return private_view(profile, self.config.media_base_url)

    async def set_photo(self, user_id: str, upload: bytes) -> dict[str, Any]:
        """Process and store a profile photo (R1.3).

        Raises:
            ProfileNotFound, PhotoRejected, PhotoTooSmall, PhotoTooLarge
        """
        check_user_id(user_id)
        if not await self.repo.exists(user_id):
            raise ProfileNotFound()
        photo: ProcessedPhoto = await asyncio.to_thread(
            process_photo,
            upload,
            max_bytes=self.config.photo_max_bytes,
            max_pixels=self.config.photo_max_pixels,
        )
        await self.repo.save_photo(photo.content_hash, photo.content_type, photo.data)
        profile = await self._load_for_update(user_id)
        profile.photo_hash = photo.content_hash
        await self.session.flush()
        await self.session.refresh(profile)
        self._invalidate_after_commit(user_id)
        return private_view(profile, self.config.media_base_url)

    async def photo(self, content_hash: str) -> tuple[bytes, str]:
        """Raises:
        NotFound: no photo with that hash.
        """
        found = await self.repo.get_photo(content_hash)
        if found is None:
            raise NotFound("No such photo.", code="PHOTO_NOT_FOUND")
        return found

    async def _load_for_update(self, user_id: str) -> StudentProfile:
        return await self._load(user_id, for_update=True)

    async def _load(self, user_id: str, *, for_update: bool = False) -> StudentProfile:
        check_user_id(user_id)
        profile = await self.repo.get(user_id, for_update=for_update)
        if profile is None:
            raise ProfileNotFound()
        return profile

    def _apply_fields(self, profile: StudentProfile, data: ProfileFields, provided: set[str]) -> None:
        for name in REQUIRED_FIELDS:
            if name in provided and (value := getattr(data, name)) is not None:
                setattr(profile, name, getattr(value, "value", value))
        if "linked_in_url" in provided:
            profile.linkedin_url = data.linked_in_url
        if "calcom" in provided:
            self._apply_calcom(profile, data.calcom)

    def _apply_calcom(self, profile: StudentProfile, link: CalcomLinkInput | None) -> None:
        if link is None:
            profile.calcom_username = None
            profile.calcom_api_key_encrypted = None
            profile.calcom_link_status = CalcomLinkStatus.UNLINKED.value
            return
        if link.username != profile.calcom_username:
            profile.calcom_user_id = None
            profile.calcom_event_type_id = None
        profile.calcom_username = link.username
        if link.api_key is not None:
            profile.calcom_api_key_encrypted = self.box.encrypt(link.api_key.get_secret_value())
        # Pending until the linker has checked the identity and the event type (R1.1, R3.2).
        profile.calcom_link_status = CalcomLinkStatus.PENDING.value
        profile.calcom_link_error = None

    def _invalidate_after_commit(self, user_id: str) -> None:
        invalidate_profile_after_commit(self.session, self.cache, user_id)

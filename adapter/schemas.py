"""Response shapes for the OpenAPI document (routes return pre-encoded JSON of these shapes)."""

from __future__ import annotations

from pydantic import BaseModel

# ruff: noqa: N815  (JSON field names are camelCase)


class StatsOut(BaseModel):
    completedSessions: int
    scheduledSessions: int
    cancelledSessions: int
    mentorCancellations: int
    noShowSessions: int
    cancellationRate: float
    completionRate: float
    averageRating: float | None
    totalRatings: int


class CalcomLinkOut(BaseModel):
    linked: bool
    status: str | None = None
    username: str | None = None
    userId: int | None = None
    eventTypeId: int | None = None
    hasApiKey: bool | None = None
    error: str | None = None


class ProfileOut(BaseModel):
    """A mentor profile; `email`, `calcom` details and timestamps only for the mentor and admins."""

    userId: str
    name: str
    email: str | None = None
    locale: str
    university: str | None
    degree: str | None
    field: str | None
    currentYear: int | None
    bio: str | None
    bioExcerpt: str
    linkedInUrl: str | None
    profilePhotoUrl: str | None
    isActive: bool
    isComplete: bool
    stats: StatsOut
    averageRating: float | None
    totalRatings: int
    availableSlots7d: int
    nextAvailableAt: str | None
    calcom: CalcomLinkOut
    createdAt: str | None = None
    updatedAt: str | None = None


class SummaryOut(BaseModel):
    """A mentor in a list (R4.2)."""

    userId: str
    name: str
    profilePhotoUrl: str | None
    university: str
    degree: str
    field: str
    currentYear: int
    bioExcerpt: str
    averageRating: float | None
    totalRatings: int
    availableSlots7d: int
    nextAvailableAt: str | None


class HealthOut(BaseModel):
    status: str
    checks: dict[str, str] = {}

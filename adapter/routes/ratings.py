"""Ratings (R7.3, R19): rate a session, rating links, a mentor's ratings, the admin review queue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from pydantic import BaseModel

from adapter.auth import Role
from adapter.envelope import Envelope, PageEnvelope, ok, ok_page
from adapter.guards import allow, services_of
from adapter.routes.docs import errors
from core.tokens import RATING_LINK_TTL, rating_token
from thotis_ext.ratings.schemas import RatingCreate
from thotis_ext.ratings.service import MAX_PAGE_SIZE, RatingService
from thotis_ext.sessions.service import Caller, SessionService

Ratings = NamedDependency[RatingService]


class RatingOut(BaseModel):
    id: int
    sessionUid: str  # noqa: N815
    mentorId: str  # noqa: N815
    rating: int
    feedback: str | None
    flaggedForReview: bool  # noqa: N815
    reviewedAt: str | None  # noqa: N815
    createdAt: str | None  # noqa: N815


class RatingLinkOut(BaseModel):
    token: str
    url: str
    expiresAt: str  # noqa: N815


@post(
    "/bookings/{uid:str}/rating",
    opt=allow(Role.SERVICE, owner=(Role.RATING,), owner_param="uid"),
    status_code=201,
    tags=["ratings"],
    responses={201: ResponseSpec(Envelope[RatingOut]), **errors(400, 403, 404, 409, 413)},
    summary="Rate a session that has ended, once: {rating 1–5, feedback ≤ 500} (R7.3, R19.2)",
    description="Callers: a service token, or the session's rating link token (role `rating`).",
)
async def rate(uid: FromPath[str], data: JSONBody[RatingCreate], ratings: Ratings) -> Response[bytes]:
    return ok(await ratings.rate(uid, data), status_code=201)


@post(
    "/bookings/{uid:str}/rating-link",
    opt=allow(Role.SERVICE, Role.ADMIN),
    status_code=200,
    tags=["ratings"],
    responses={200: ResponseSpec(Envelope[RatingLinkOut]), **errors(403, 404)},
    summary="A signed, expiring rating link for the session's prospective student (R19.1)",
)
async def rating_link(
    uid: FromPath[str], sessions: NamedDependency[SessionService], request: Request[Any, Any, Any]
) -> Response[bytes]:
    await sessions.get(uid, Caller())  # SESSION_NOT_FOUND for an unknown uid
    settings = services_of(request).settings
    token = rating_token(settings.jwt_secret.get_secret_value(), settings.jwt_audience, uid)
    expires = datetime.now(UTC) + RATING_LINK_TTL
    return ok({"token": token, "url": f"/rate/{token}", "expiresAt": expires.isoformat(timespec="seconds")})


@get(
    "/students/{user_id:str}/ratings",
    opt=allow(Role.SERVICE, Role.ADMIN, owner=(Role.MENTOR,)),
    tags=["ratings"],
    responses={200: ResponseSpec(PageEnvelope[RatingOut]), **errors(400, 403, 404)},
    summary="A mentor's ratings, newest first",
)
async def mentor_ratings(
    user_id: FromPath[str],
    ratings: Ratings,
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, QueryParameter(name="pageSize", ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> Response[bytes]:
    items, total = await ratings.of_mentor(user_id, page=page, page_size=page_size)
    return ok_page(msgspec.json.encode(items), total=total, page=page, page_size=page_size)


@get(
    "/platform/reviews",
    opt=allow(Role.ADMIN),
    tags=["ratings"],
    responses={200: ResponseSpec(Envelope[list[RatingOut]]), **errors(403)},
    summary="The review queue: ratings below 3 no admin has resolved, oldest first (R19.4)",
)
async def review_queue(ratings: Ratings) -> Response[bytes]:
    return ok(await ratings.review_queue())


@post(
    "/platform/reviews/{rating_id:int}/resolve",
    opt=allow(Role.ADMIN),
    status_code=200,
    tags=["ratings"],
    responses={200: ResponseSpec(Envelope[RatingOut]), **errors(403, 404)},
    summary="Take a low rating out of the review queue",
)
async def resolve_review(rating_id: FromPath[int], ratings: Ratings) -> Response[bytes]:
    return ok(await ratings.resolve(rating_id))

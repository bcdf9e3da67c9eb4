"""Mentor profiles and discovery: /api/v2/students (R1, R4, R7.5, R18)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, FromPath, JSONBody, QueryParameter

from adapter.auth import Principal, Role
from adapter.deps import principal_of
from adapter.envelope import Envelope, PageEnvelope, ok, ok_json, ok_page
from adapter.guards import allow
from adapter.routes.docs import errors
from adapter.schemas import ProfileOut, StatsOut, SummaryOut
from core.errors import InvalidInput
from thotis_ext import rules
from thotis_ext.enums import AcademicField
from thotis_ext.profiles.reads import ProfileReads
from thotis_ext.profiles.repository import ProfileFilters
from thotis_ext.profiles.schemas import ProfileCreate, ProfileUpdate, StatusUpdate
from thotis_ext.profiles.service import ProfileService

PHOTO_FORM_FIELD = "photo"
_PROFILE = {200: ResponseSpec(Envelope[ProfileOut], description="The profile")}
_LIST = {200: ResponseSpec(PageEnvelope[SummaryOut], description="One page of mentors, discovery order")}

PageNumber = Annotated[int, QueryParameter(name="page", ge=1, le=10_000, description="1-based page")]
PageSize = Annotated[int, QueryParameter(name="pageSize", ge=1, le=500, description="Items per page (capped)")]
Profiles = NamedDependency[ProfileService]
Reads = NamedDependency[ProfileReads]
UserId = FromPath[str]


def _field(value: str) -> AcademicField:
    try:
        return AcademicField(value.upper())
    except ValueError:
        raise InvalidInput(
            f"Unknown academic field {value[:40]!r}.",
            code="INVALID_FIELD",
            details={"allowed": [f.value for f in AcademicField]},
        ) from None


def _text(value: str | None, name: str) -> str | None:
    """A free-text query parameter, trimmed; empty means absent."""
    if value is None or not value.strip():
        return None
    if rules.has_control_characters(value):
        raise InvalidInput(
            details={"errors": [{"field": name, "message": "must not contain control characters", "source": "query"}]}
        )
    return value.strip()


def _page_size(value: int, cap: int) -> int:
    if value > cap:
        raise InvalidInput(f"pageSize must be at most {cap}.", code="INVALID_PAGINATION", details={"max": cap})
    return value


def _sees_private(principal: Principal, user_id: str) -> bool:
    return principal.role is Role.ADMIN or (principal.role is Role.MENTOR and principal.sub == user_id)


class StudentsController(Controller):
    """Profiles of mentors (current university students)."""

    path = "/students"
    tags = ["students"]  # noqa: RUF012 (Litestar reads it as a class attribute)

    @get(
        "/by-field/{field:str}",
        opt=allow(Role.SERVICE, Role.WIDGET, Role.ADMIN),
        responses={**_LIST, **errors(400, 403)},
        summary="Active, complete mentors of one academic field (R4, R8.1)",
    )
    async def by_field(
        self,
        field: FromPath[str],
        reads: Reads,
        page: PageNumber = 1,
        page_size: PageSize = 20,
    ) -> Response[bytes]:
        filters = ProfileFilters(field=_field(field).value)
        size = _page_size(page_size, reads.config.max_page_size)
        result = await reads.list_public(filters, page=page, page_size=size)
        return ok_page(result.items_json, total=result.total, page=page, page_size=size)

    @get(
        "/",
        opt=allow(Role.SERVICE, Role.ADMIN),
        responses={**_LIST, **errors(400, 403)},
        summary="Search mentors; filters combine with AND; total count returned (R18)",
    )
    async def search(
        self,
        reads: Reads,
        field: Annotated[str | None, QueryParameter(description="Academic field")] = None,
        university: Annotated[str | None, QueryParameter(max_length=200)] = None,
        available: Annotated[bool | None, QueryParameter(description="Free slots in the next 7 days")] = None,
        q: Annotated[str | None, QueryParameter(max_length=200, description="Free text")] = None,
        page: PageNumber = 1,
        page_size: PageSize = 20,
    ) -> Response[bytes]:
        filters = ProfileFilters(
            field=_field(field).value if field else None,
            university=_text(university, "university"),
            available=available,
            text=_text(q, "q"),
        )
        size = _page_size(page_size, reads.config.max_page_size)
        result = await reads.list_public(filters, page=page, page_size=size)
        return ok_page(result.items_json, total=result.total, page=page, page_size=size)

    @get(
        "/{user_id:str}",
        opt=allow(Role.SERVICE, Role.ADMIN, owner=(Role.MENTOR, Role.WIDGET)),
        responses={**_PROFILE, **errors(400, 403, 404)},
        summary="A mentor's profile with stats and rating summary (R7.5, R19.5)",
    )
    async def get_profile(self, user_id: UserId, reads: Reads, request: Request[Any, Any, Any]) -> Response[bytes]:
        if _sees_private(principal_of(request), user_id):
            return ok_json(await reads.private_json(user_id))
        return ok_json(await reads.public_json(user_id))

    @post(
        "/{user_id:str}/profile",
        opt=allow(Role.ADMIN, owner=(Role.MENTOR,)),
        status_code=201,
        responses={201: ResponseSpec(Envelope[ProfileOut], description="Created"), **errors(400, 403, 409, 413)},
        summary="Create a mentor profile and start its Cal.com link (R1.1)",
    )
    async def create_profile(
        self, user_id: UserId, data: JSONBody[ProfileCreate], profiles: Profiles
    ) -> Response[bytes]:
        return ok(await profiles.create(user_id, data), status_code=201)

    @put(
        "/{user_id:str}/profile",
        opt=allow(Role.ADMIN, owner=(Role.MENTOR,)),
        responses={**_PROFILE, **errors(400, 403, 404, 409, 413)},
        summary="Update a profile; fields left out are unchanged (R1.2, R8.4)",
    )
    async def update_profile(
        self, user_id: UserId, data: JSONBody[ProfileUpdate], profiles: Profiles
    ) -> Response[bytes]:
        return ok(await profiles.update(user_id, data))

    @patch(
        "/{user_id:str}/status",
        opt=allow(Role.ADMIN, owner=(Role.MENTOR,)),
        responses={**_PROFILE, **errors(400, 403, 404, 413)},
        summary="Activate or deactivate a profile (R1.4)",
    )
    async def set_status(self, user_id: UserId, data: JSONBody[StatusUpdate], profiles: Profiles) -> Response[bytes]:
        return ok(await profiles.set_active(user_id, data.is_active))

    @put(
        "/{user_id:str}/photo",
        opt=allow(Role.ADMIN, owner=(Role.MENTOR,)),
        request_max_body_size=6 * 1024 * 1024,
        responses={**_PROFILE, **errors(400, 403, 404, 413)},
        summary="Upload a profile photo (multipart field `photo`): JPEG/PNG/WebP ≤ 5 MB, stored 400×400 (R1.3)",
    )
    async def upload_photo(
        self,
        user_id: UserId,
        profiles: Profiles,
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Response[bytes]:
        upload = data.get(PHOTO_FORM_FIELD)
        if not isinstance(upload, UploadFile):
            raise InvalidInput(
                f"Send the image as a multipart/form-data file field named {PHOTO_FORM_FIELD!r}.",
                code="PHOTO_MISSING",
            )
        return ok(await profiles.set_photo(user_id, await upload.read()))

    @get(
        "/{user_id:str}/stats",
        opt=allow(Role.SERVICE, Role.ADMIN, owner=(Role.MENTOR,)),
        responses={200: ResponseSpec(Envelope[StatsOut], description="Statistics"), **errors(400, 403, 404)},
        summary="Completed, scheduled, cancelled sessions, rates and average rating (R7.1)",
    )
    async def stats(self, user_id: UserId, reads: Reads) -> Response[bytes]:
        return ok_json(await reads.stats_json(user_id))

"""Sessions: /api/v2/bookings (R5, R8.3, R12, R13)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from pydantic import BaseModel

from adapter.auth import Role
from adapter.deps import principal_of
from adapter.envelope import Envelope, ok
from adapter.guards import allow
from adapter.routes.docs import errors
from core.errors import Forbidden, InvalidInput
from thotis_ext.enums import CancelledBy
from thotis_ext.sessions.schemas import BookingCancel, BookingCreate, BookingReschedule
from thotis_ext.sessions.service import Caller, SessionService

Sessions = NamedDependency[SessionService]


class SessionOut(BaseModel):
    """A session (SPEC.md §3)."""

    uid: str
    mentorId: str  # noqa: N815
    start: str
    end: str
    status: str
    meetUrl: str | None  # noqa: N815
    prospectiveStudent: dict[str, Any]  # noqa: N815
    rescheduledFromUid: str | None  # noqa: N815
    cancellation: dict[str, Any] | None


_SESSION = ResponseSpec(Envelope[SessionOut], description="The session")


def _caller(request: Request[Any, Any, Any]) -> Caller:
    principal = principal_of(request)
    return Caller(mentor_id=principal.sub if principal.role is Role.MENTOR else None)


class BookingsController(Controller):
    """Thotis sessions, booked in the mentor's Cal.com."""

    path = "/bookings"
    tags = ["bookings"]  # noqa: RUF012 (Litestar reads it as a class attribute)

    @post(
        "/",
        opt=allow(Role.SERVICE, Role.WIDGET),
        status_code=201,
        responses={201: _SESSION, **errors(400, 403, 404, 409, 413, 502, 504)},
        summary="Book a 15-minute session with a mentor; returns the Meet link (R5.2, R5.3, R12.1)",
    )
    async def book(
        self, data: JSONBody[BookingCreate], sessions: Sessions, request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        principal = principal_of(request)
        if principal.role is Role.WIDGET and principal.sub != data.mentor_id:
            raise Forbidden("This widget token books only its own mentor.", code="NOT_OWNER")
        return ok(await sessions.book(data), status_code=201)

    @get(
        "/{uid:str}",
        opt=allow(Role.SERVICE, Role.ADMIN, Role.MENTOR),
        responses={200: _SESSION, **errors(403, 404)},
        summary="One session (a mentor sees only their own)",
    )
    async def get_session(
        self, uid: FromPath[str], sessions: Sessions, request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        return ok(await sessions.get(uid, _caller(request)))

    @patch(
        "/{uid:str}/reschedule",
        opt=allow(Role.SERVICE, Role.ADMIN, Role.MENTOR),
        responses={200: _SESSION, **errors(400, 403, 404, 409, 413, 502, 504)},
        summary="Move a session to a new slot; the new session has a new uid and Meet link (R12.5)",
    )
    async def reschedule(
        self,
        uid: FromPath[str],
        data: JSONBody[BookingReschedule],
        sessions: Sessions,
        request: Request[Any, Any, Any],
    ) -> Response[bytes]:
        return ok(await sessions.reschedule(uid, _caller(request), start=data.start, reason=data.reason))

    @post(
        "/{uid:str}/complete",
        opt=allow(Role.ADMIN, Role.MENTOR),
        status_code=200,
        responses={200: _SESSION, **errors(400, 403, 404, 409)},
        summary="Mark a session that has started as completed",
    )
    async def complete(
        self, uid: FromPath[str], sessions: Sessions, request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        return ok(await sessions.complete(uid, _caller(request)))

    @delete(
        "/{uid:str}",
        opt=allow(Role.SERVICE, Role.ADMIN, Role.MENTOR),
        status_code=200,
        responses={200: _SESSION, **errors(400, 403, 404, 409, 413, 502, 504)},
        summary="Cancel a session until 2 hours before it starts (R13)",
    )
    async def cancel(
        self,
        uid: FromPath[str],
        sessions: Sessions,
        request: Request[Any, Any, Any],
        reason: Annotated[str | None, QueryParameter(max_length=500)] = None,
        cancelled_by: Annotated[str | None, QueryParameter(name="cancelledBy")] = None,
    ) -> Response[bytes]:
        body = await request.body()
        if body.strip():
            try:
                data = BookingCancel.model_validate_json(body)
            except ValueError as exc:
                raise InvalidInput("The cancellation body is invalid.", details={"reason": str(exc)[:300]}) from None
        else:
            try:
                data = BookingCancel.model_validate({"reason": reason, "cancelledBy": cancelled_by})
            except ValueError:
                raise InvalidInput(
                    "cancelledBy must be one of: " + ", ".join(c.value for c in CancelledBy) + "."
                ) from None
        return ok(await sessions.cancel(uid, _caller(request), reason=data.reason, cancelled_by=data.cancelled_by))

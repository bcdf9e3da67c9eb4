"""Cal.com's error bodies become one error class per status family, whatever their shape."""

from __future__ import annotations

import pytest

from calcom_client.errors import (
    CalcomBadRequest,
    CalcomConflict,
    CalcomError,
    CalcomForbidden,
    CalcomNotFound,
    CalcomRateLimited,
    CalcomServerError,
    CalcomTimeout,
    CalcomUnauthorized,
    CalcomUnavailable,
    error_from_response,
    parse_error_body,
)
from tests.calcom_client.openapi_validation import error_body


class TestParseErrorBody:
    def test_reads_the_calcom_envelope(self) -> None:
        body = error_body(
            400, "BadRequestException", "User either already has booking at this time or is not available"
        )
        code, message, details = parse_error_body(body)
        assert code == "BadRequestException"
        assert message == "User either already has booking at this time or is not available"
        assert details == {"message": message, "statusCode": 400}

    def test_reads_a_bare_nestjs_error(self) -> None:
        body = {"statusCode": 400, "message": ["start must be a valid ISO 8601 date string"], "error": "Bad Request"}
        assert parse_error_body(body)[:2] == ("Bad Request", "start must be a valid ISO 8601 date string")

    @pytest.mark.parametrize("body", ["<html>502 Bad Gateway</html>", None, [], {"unexpected": True}])
    def test_tolerates_any_other_shape(self, body: object) -> None:
        assert parse_error_body(body)[:2] == (None, None)


class TestErrorFromResponse:
    @pytest.mark.parametrize(
        ("status", "cls"),
        [
            (400, CalcomBadRequest),
            (401, CalcomUnauthorized),
            (403, CalcomForbidden),
            (404, CalcomNotFound),
            (408, CalcomTimeout),
            (409, CalcomConflict),
            (422, CalcomBadRequest),
            (429, CalcomRateLimited),
            (498, CalcomUnauthorized),
            (500, CalcomServerError),
            (502, CalcomServerError),
            (503, CalcomServerError),
            (504, CalcomServerError),
            (418, CalcomError),
        ],
    )
    def test_maps_each_status_to_its_family(self, status: int, cls: type[CalcomError]) -> None:
        error = error_from_response(status, error_body(status, "SomeException", "nope"), method="GET", path="/v2/me")
        assert type(error) is cls
        assert (error.status, error.code, error.message, error.path) == (status, "SomeException", "nope", "/v2/me")

    def test_timeout_is_an_unavailability(self) -> None:
        assert issubclass(CalcomTimeout, CalcomUnavailable)

    def test_rate_limit_carries_retry_after(self) -> None:
        error = error_from_response(429, {}, method="GET", path="/v2/slots", retry_after=12.0)
        assert isinstance(error, CalcomRateLimited)
        assert error.retry_after == 12.0
        assert error.code == "RATE_LIMITED"

    def test_falls_back_to_the_reason_phrase(self) -> None:
        error = error_from_response(502, "<html>bad gateway</html>", method="GET", path="/v2/me", reason="Bad Gateway")
        assert error.message == "Bad Gateway"
        assert error.details == "<html>bad gateway</html>"
        assert error.code == "SERVER_ERROR"

    def test_text_names_status_code_and_path(self) -> None:
        error = error_from_response(
            404, error_body(404, "NotFoundException", "Booking not found"), method="GET", path="/v2/bookings/x"
        )
        assert str(error) == "Cal.com 404 NotFoundException GET /v2/bookings/x: Booking not found"

"""The one sending module: headers, base URL, timeouts, the retry loop and error mapping (respx)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import respx

from calcom_client import (
    CalcomBadRequest,
    CalcomConflict,
    CalcomForbidden,
    CalcomInvalidResponse,
    CalcomNotFound,
    CalcomRateLimited,
    CalcomServerError,
    CalcomTimeout,
    CalcomUnauthorized,
    CalcomUnavailable,
    RetryPolicy,
)
from calcom_client.errors import CalcomError
from calcom_client.transport import CalcomTransport, api_version_for, normalise_base_url
from tests.calcom_client.openapi_validation import API_URL, MENTOR_KEY, error_body, success

NOW = datetime(2050, 9, 5, 9, 0, tzinfo=UTC)


class FakeTime:
    """A monotonic clock that only moves when the transport sleeps (or a handler says so)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
async def router() -> AsyncIterator[respx.MockRouter]:
    async with respx.mock(base_url=API_URL, assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_transport(
    fake_time: FakeTime, *, policy: RetryPolicy | None = None, http: httpx.AsyncClient | None = None
) -> CalcomTransport:
    return CalcomTransport(
        http or httpx.AsyncClient(),
        API_URL,
        policy=policy or RetryPolicy(max_attempts=3, base_delay=0.25, max_delay=4, budget=15, max_server_wait=10),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        now=lambda: NOW,
        jitter=lambda: 1.0,
    )


class TestHeadersAndUrls:
    @pytest.mark.parametrize(
        ("path", "version"),
        [
            ("/v2/event-types", "2024-06-14"),
            ("/v2/event-types/12", "2024-06-14"),
            ("/v2/event-types/12/webhooks", None),
            ("/v2/event-types/12/webhooks/abc", None),
            ("/v2/slots", "2024-09-04"),
            ("/v2/bookings", "2024-08-13"),
            ("/v2/bookings/uid/cancel", "2024-08-13"),
            ("/v2/webhooks", None),
            ("/v2/me", None),
        ],
    )
    def test_version_header_per_resource(self, path: str, version: str | None) -> None:
        assert api_version_for(path) == version

    def test_rejects_a_path_outside_v2(self) -> None:
        with pytest.raises(ValueError, match="/v2/"):
            api_version_for("/bookings")

    @pytest.mark.parametrize(
        "configured", ["https://cal.test", "https://cal.test/", "https://cal.test/v2", " https://cal.test/v2/ "]
    )
    def test_base_url_is_given_without_v2(self, configured: str) -> None:
        assert normalise_base_url(configured) == "https://cal.test"

    def test_base_url_must_be_http(self) -> None:
        with pytest.raises(ValueError, match="http"):
            normalise_base_url("cal.test")

    async def test_sends_bearer_version_and_accept_but_never_origin(
        self, router: respx.MockRouter, fake_time: FakeTime
    ) -> None:
        route = router.get("/v2/bookings/abc").respond(200, json=success({}))
        http = httpx.AsyncClient(headers={"Origin": "https://thotis.example"})
        await make_transport(fake_time, http=http).request("GET", "/v2/bookings/abc", api_key=f" {MENTOR_KEY} ")
        sent = route.calls.last.request
        assert sent.headers["Authorization"] == f"Bearer {MENTOR_KEY}"
        assert sent.headers["cal-api-version"] == "2024-08-13"
        assert sent.headers["Accept"] == "application/json"
        assert "origin" not in sent.headers

    async def test_sends_no_authorization_without_a_key(self, router: respx.MockRouter, fake_time: FakeTime) -> None:
        route = router.get("/v2/slots").respond(200, json=success({}))
        await make_transport(fake_time).request("GET", "/v2/slots")
        assert "authorization" not in route.calls.last.request.headers

    def test_refuses_an_empty_key(self, fake_time: FakeTime) -> None:
        with pytest.raises(ValueError, match="empty"):
            make_transport(fake_time).build_request("GET", "/v2/me", api_key="  ")

    async def test_timeouts_are_explicit_and_capped_by_the_remaining_budget(
        self, router: respx.MockRouter, fake_time: FakeTime
    ) -> None:
        route = router.get("/v2/me").mock(side_effect=[httpx.Response(503), httpx.Response(200, json=success({}))])
        policy = RetryPolicy(max_attempts=2, base_delay=6, max_delay=6, budget=15)
        await make_transport(fake_time, policy=policy).request("GET", "/v2/me", api_key=MENTOR_KEY)
        first, second = (call.request.extensions["timeout"] for call in route.calls)
        assert first == {"connect": 3.0, "read": 10.0, "write": 10.0, "pool": 3.0}
        assert second == {"connect": 3.0, "read": 9.0, "write": 9.0, "pool": 3.0}


class TestErrorMapping:
    @pytest.mark.parametrize(
        ("status", "cls"),
        [
            (400, CalcomBadRequest),
            (401, CalcomUnauthorized),
            (403, CalcomForbidden),
            (404, CalcomNotFound),
            (409, CalcomConflict),
            (422, CalcomBadRequest),
            (429, CalcomRateLimited),
            (500, CalcomServerError),
            (502, CalcomServerError),
            (503, CalcomServerError),
        ],
    )
    async def test_status_becomes_its_error(
        self, router: respx.MockRouter, fake_time: FakeTime, status: int, cls: type[CalcomError]
    ) -> None:
        router.get("/v2/bookings/abc").respond(
            status,
            json=error_body(status, "SomeException", "it failed", "/v2/bookings/abc"),
            headers={"X-Request-Id": "r-1"},
        )
        with pytest.raises(cls) as raised:
            await make_transport(fake_time, policy=RetryPolicy(max_attempts=1)).request("GET", "/v2/bookings/abc")
        assert (raised.value.status, raised.value.code, raised.value.message) == (status, "SomeException", "it failed")
        assert (raised.value.method, raised.value.path, raised.value.request_id) == ("GET", "/v2/bookings/abc", "r-1")

    async def test_connection_error_becomes_unavailable(self, router: respx.MockRouter, fake_time: FakeTime) -> None:
        router.get("/v2/me").mock(side_effect=httpx.ConnectError("connection refused"))
        with pytest.raises(CalcomUnavailable) as raised:
            await make_transport(fake_time).request("GET", "/v2/me", api_key=MENTOR_KEY)
        assert not isinstance(raised.value, CalcomTimeout)
        assert raised.value.details == {"failure": "not_sent"}

    async def test_timeout_becomes_calcom_timeout(self, router: respx.MockRouter, fake_time: FakeTime) -> None:
        router.get("/v2/me").mock(side_effect=httpx.ReadTimeout("read timed out"))
        with pytest.raises(CalcomTimeout):
            await make_transport(fake_time).request("GET", "/v2/me", api_key=MENTOR_KEY)

    async def test_a_2xx_that_is_not_json_is_an_invalid_response(
        self, router: respx.MockRouter, fake_time: FakeTime
    ) -> None:
        router.get("/v2/me").respond(200, text="<html>maintenance</html>")
        with pytest.raises(CalcomInvalidResponse):
            await make_transport(fake_time).request("GET", "/v2/me", api_key=MENTOR_KEY)

    async def test_the_key_never_appears_in_errors_or_logs(
        self, router: respx.MockRouter, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
    ) -> None:
        router.get("/v2/me").mock(side_effect=httpx.ConnectError("connection refused"))
        caplog.set_level(logging.DEBUG)
        with pytest.raises(CalcomUnavailable) as raised:
            await make_transport(fake_time).request("GET", "/v2/me", api_key=MENTOR_KEY)
        assert MENTOR_KEY not in str(raised.value) + repr(raised.value)
        assert caplog.records, "retries are logged"
        assert all(MENTOR_KEY not in str(record.__dict__) for record in caplog.records)


class TestRetries:
    async def test_retries_5xx_then_succeeds_with_backoff(self, router: respx.MockRouter, fake_time: FakeTime) -> None:
        route = router.get("/v2/bookings/abc").mock(
            side_effect=[httpx.Response(503), httpx.Response(502), httpx.Response(200, json=success({"uid": "abc"}))]
        )
        body = await make_transport(fake_time).request("GET", "/v2/bookings/abc")
        assert body == success({"uid": "abc"})
        assert route.call_count == 3
        assert fake_time.sleeps == [0.25, 0.5]

    async def test_gives_up_after_max_attempts(self, router: respx.MockRouter, fake_time: FakeTime) -> None:
        route = router.get("/v2/bookings/abc").respond(500, json=error_body(500, "InternalServerErrorException", "x"))
        with pytest.raises(CalcomServerError):
            await make_transport(fake_time).request("GET", "/v2/bookings/abc")
        assert route.call_count == 3

    async def test_honours_retry_after(self, router: respx.MockRouter, fake_time: FakeTime) -> None:
        router.get("/v2/slots").mock(
            side_effect=[httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json=success({}))]
        )
        await make_transport(fake_time).request("GET", "/v2/slots")
        assert fake_time.sleeps == [3.0]

    async def test_honours_calcom_rate_limit_headers(self, router: respx.MockRouter, fake_time: FakeTime) -> None:
        limited = httpx.Response(
            429,
            json=error_body(
                429, "ThrottlerException", "CustomThrottlerGuard - Too many requests. Please try again later."
            ),
            headers={"X-RateLimit-Remaining-Default": "0", "X-RateLimit-Reset-Default": "2"},
        )
        router.get("/v2/me").mock(side_effect=[limited, httpx.Response(200, json=success({}))])
        await make_transport(fake_time).request("GET", "/v2/me", api_key=MENTOR_KEY)
        assert fake_time.sleeps == [2.0]

    async def test_a_wait_longer_than_allowed_is_raised_at_once_with_its_hint(
        self, router: respx.MockRouter, fake_time: FakeTime
    ) -> None:
        route = router.get("/v2/me").respond(
            429, headers={"X-RateLimit-Remaining-Default": "0", "X-RateLimit-Reset-Default": "60"}
        )
        with pytest.raises(CalcomRateLimited) as raised:
            await make_transport(fake_time).request("GET", "/v2/me", api_key=MENTOR_KEY)
        assert raised.value.retry_after == 60
        assert route.call_count == 1
        assert fake_time.sleeps == []

    async def test_retries_a_connection_error(self, router: respx.MockRouter, fake_time: FakeTime) -> None:
        route = router.get("/v2/me").mock(
            side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=success({}))]
        )
        await make_transport(fake_time).request("GET", "/v2/me", api_key=MENTOR_KEY)
        assert route.call_count == 2

    async def test_retries_a_read_timeout_on_an_idempotent_call(
        self, router: respx.MockRouter, fake_time: FakeTime
    ) -> None:
        route = router.get("/v2/me").mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(CalcomTimeout):
            await make_transport(fake_time).request("GET", "/v2/me", api_key=MENTOR_KEY)
        assert route.call_count == 3

    @pytest.mark.parametrize(
        "outcome",
        [httpx.Response(503), httpx.Response(502), httpx.Response(500), httpx.Response(429), httpx.ReadTimeout("slow")],
    )
    async def test_never_retries_a_booking_creation_that_may_have_arrived(
        self, router: respx.MockRouter, fake_time: FakeTime, outcome: httpx.Response | Exception
    ) -> None:
        route = router.post("/v2/bookings").mock(side_effect=[outcome, httpx.Response(201, json=success({}))])
        with pytest.raises(CalcomError):
            await make_transport(fake_time).request("POST", "/v2/bookings", json={}, idempotent=False)
        assert route.call_count == 1

    async def test_retries_a_booking_creation_that_never_left(
        self, router: respx.MockRouter, fake_time: FakeTime
    ) -> None:
        route = router.post("/v2/bookings").mock(
            side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json=success({"uid": "new"}))]
        )
        body = await make_transport(fake_time).request("POST", "/v2/bookings", json={}, idempotent=False)
        assert body == success({"uid": "new"})
        assert route.call_count == 2

    async def test_post_is_not_idempotent_by_default(self, router: respx.MockRouter, fake_time: FakeTime) -> None:
        route = router.post("/v2/webhooks").respond(503)
        with pytest.raises(CalcomServerError):
            await make_transport(fake_time).request("POST", "/v2/webhooks", api_key=MENTOR_KEY, json={})
        assert route.call_count == 1

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
    async def test_never_retries_an_answer_about_the_request(
        self, router: respx.MockRouter, fake_time: FakeTime, status: int
    ) -> None:
        route = router.post("/v2/bookings/abc/cancel").respond(status, json=error_body(status, "E", "no"))
        with pytest.raises(CalcomError):
            await make_transport(fake_time).request("POST", "/v2/bookings/abc/cancel", json={}, idempotent=True)
        assert route.call_count == 1

    async def test_stops_when_the_budget_is_spent(self, router: respx.MockRouter, fake_time: FakeTime) -> None:
        def slow_failure(request: httpx.Request) -> httpx.Response:
            fake_time.now += 4.0  # each attempt takes 4 s
            return httpx.Response(504)

        route = router.get("/v2/me").mock(side_effect=slow_failure)
        policy = RetryPolicy(max_attempts=10, base_delay=1, max_delay=1, budget=10)
        with pytest.raises(CalcomServerError):
            await make_transport(fake_time, policy=policy).request("GET", "/v2/me", api_key=MENTOR_KEY)
        assert route.call_count == 2
        assert fake_time.now < 10 + 4

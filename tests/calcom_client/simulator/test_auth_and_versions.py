"""Authentication, `cal-api-version` routing, unknown routes, injected faults and latency."""

from __future__ import annotations

import time

import httpx
import pytest

from calcom_client.simulator import CalcomSimulator, User
from tests.calcom_client.simulator.openapi_check import check_error_envelope
from tests.calcom_client.simulator.support import (
    BOOKINGS,
    EVENT_TYPES,
    MONDAY,
    SLOTS,
    auth,
    booking_body,
    create_event_type,
)

NO_CREDENTIALS = (
    "No authentication method provided. Either pass an API key as 'Bearer' header or OAuth client credentials "
    "as 'x-cal-secret-key' and 'x-cal-client-id' headers"
)


class TestApiKeyAuth:
    async def test_me_answers_the_key_owner(self, api: httpx.AsyncClient, mentor: User) -> None:
        response = await api.get("/v2/me", headers=auth(mentor))

        assert response.json()["data"]["username"] == "alice"
        assert response.json()["data"]["timeZone"] == "Europe/Paris"

    async def test_missing_credentials_get_cal_com_401(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/v2/me")

        error = check_error_envelope(response)
        assert response.status_code == 401
        assert error == {
            "code": "UnauthorizedException",
            "message": NO_CREDENTIALS,
            "details": {"message": NO_CREDENTIALS, "error": "Unauthorized", "statusCode": 401},
        }
        assert response.json()["path"] == "/v2/me"

    @pytest.mark.parametrize(
        ("token", "message"),
        [
            ("cal_0000000000000000", "ApiAuthStrategy - api key - Your api key is not valid"),
            ("not-a-cal-key", "ApiAuthStrategy - access token - Invalid Access Token."),
        ],
    )
    async def test_a_wrong_key_gets_401(self, api: httpx.AsyncClient, mentor: User, token: str, message: str) -> None:
        response = await api.get("/v2/webhooks", headers={"Authorization": f"Bearer {token}"})

        assert response.status_code == 401
        assert response.json()["error"]["message"] == message

    async def test_a_self_host_without_licence_refuses_every_key(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, mentor: User
    ) -> None:
        sim.license_valid = False

        response = await api.get("/v2/me", headers=auth(mentor))

        assert response.status_code == 401
        assert "Invalid or missing CALCOM_LICENSE_KEY" in response.json()["error"]["message"]

    async def test_a_bad_key_on_an_optional_route_is_still_refused(self, api: httpx.AsyncClient, mentor: User) -> None:
        et = await create_event_type(api, mentor)
        headers = {"Authorization": "Bearer cal_wrong", **BOOKINGS}

        response = await api.post("/v2/bookings", headers=headers, json=booking_body(et["id"], MONDAY.replace(hour=9)))

        assert response.status_code == 401


class TestVersionHeader:
    async def test_slots_without_the_header_reach_no_route(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/v2/slots", params={"eventTypeId": 1, "start": "2050-09-05", "end": "2050-09-05"})

        assert response.status_code == 404
        assert (
            response.json()["error"]["message"] == "Cannot GET /v2/slots?eventTypeId=1&start=2050-09-05&end=2050-09-05"
        )

    @pytest.mark.parametrize("version", [None, '"2024-08-13"', "2024-06-14"])
    async def test_a_booking_without_the_right_version_hits_the_old_controller(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, mentor: User, version: str | None
    ) -> None:
        et = await create_event_type(api, mentor)
        headers = {"cal-api-version": version} if version else {}

        response = await api.post("/v2/bookings", headers=headers, json=booking_body(et["id"], MONDAY.replace(hour=9)))

        assert response.status_code == 400
        assert {e["property"] for e in response.json()["error"]["details"]["errors"]} >= {"responses", "timeZone"}
        assert sim.store.bookings == {}

    async def test_a_version_no_bookings_controller_has_is_a_404(self, api: httpx.AsyncClient, mentor: User) -> None:
        et = await create_event_type(api, mentor)

        response = await api.post("/v2/bookings", headers=SLOTS, json=booking_body(et["id"], MONDAY.replace(hour=9)))

        assert response.status_code == 404
        assert response.json()["error"]["message"] == "Cannot POST /v2/bookings"

    async def test_reschedule_without_the_header_is_a_404(self, api: httpx.AsyncClient, mentor: User) -> None:
        et = await create_event_type(api, mentor)
        booked = await api.post("/v2/bookings", headers=BOOKINGS, json=booking_body(et["id"], MONDAY.replace(hour=9)))
        uid = booked.json()["data"]["uid"]

        response = await api.post(f"/v2/bookings/{uid}/reschedule", json={"start": "2050-09-05T11:00:00Z"})

        assert response.status_code == 404

    async def test_reads_without_the_header_get_the_old_shapes(
        self, raw: httpx.AsyncClient, api: httpx.AsyncClient, mentor: User
    ) -> None:
        et = await create_event_type(api, mentor)
        booked = await api.post("/v2/bookings", headers=BOOKINGS, json=booking_body(et["id"], MONDAY.replace(hour=9)))
        uid = booked.json()["data"]["uid"]

        booking = (await raw.get(f"/v2/bookings/{uid}")).json()["data"]
        listed = await raw.get("/v2/event-types", params={"username": "alice"})
        event_type = (await raw.get(f"/v2/event-types/{et['id']}", headers=auth(mentor))).json()["data"]

        assert "startTime" in booking
        assert "start" not in booking
        assert listed.status_code == 401  # the old list needs auth even with a username
        assert set(event_type) == {"eventType"}

    async def test_event_type_create_without_the_header_wants_the_old_fields(
        self, api: httpx.AsyncClient, mentor: User
    ) -> None:
        body = {"title": "T", "slug": "t", "lengthInMinutes": 15}

        response = await api.post("/v2/event-types", headers=auth(mentor), json=body)

        assert response.status_code == 400
        assert [e["property"] for e in response.json()["error"]["details"]["errors"]] == ["length"]

    async def test_unversioned_routes_ignore_the_header(self, api: httpx.AsyncClient, mentor: User) -> None:
        response = await api.get("/v2/webhooks", headers=auth(mentor, **EVENT_TYPES))

        assert response.status_code == 200


class TestRoutingAndFaults:
    async def test_an_unknown_route_is_a_404(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/v2/nothing-here")

        assert response.status_code == 404
        assert response.json()["error"]["message"] == "Cannot GET /v2/nothing-here"

    async def test_injected_faults_answer_once_then_recover(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, mentor: User
    ) -> None:
        sim.fail_next(503, times=1, path_prefix="/v2/me")
        sim.fail_next(429, times=1, path_prefix="/v2/me")

        unavailable = await api.get("/v2/me", headers=auth(mentor))
        throttled = await api.get("/v2/me", headers=auth(mentor))
        fine = await api.get("/v2/me", headers=auth(mentor))

        assert unavailable.status_code == 503
        assert throttled.status_code == 429
        assert (
            throttled.json()["error"]["message"] == "CustomThrottlerGuard - Too many requests. Please try again later."
        )
        assert "retry-after" not in throttled.headers
        assert fine.status_code == 200

    async def test_an_injected_500_has_nest_s_bare_body(self, raw: httpx.AsyncClient, sim: CalcomSimulator) -> None:
        sim.fail_next(500)

        response = await raw.get("/v2/me")

        assert response.json() == {"statusCode": 500, "message": "Internal server error"}

    async def test_delay_is_added_to_every_response(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, mentor: User
    ) -> None:
        sim.delay_seconds = 0.05
        started = time.perf_counter()

        await api.get("/v2/me", headers=auth(mentor))
        await api.get("/v2/me")

        assert time.perf_counter() - started >= 0.1

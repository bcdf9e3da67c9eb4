"""Event types: `/v2/event-types` with cal-api-version 2024-06-14."""

from __future__ import annotations

import httpx

from calcom_client.simulator import CalcomSimulator, User
from tests.calcom_client.simulator.support import EVENT_TYPES, MEET, auth, create_event_type


class TestCreateEventType:
    async def test_creates_with_the_documented_shape(self, api: httpx.AsyncClient, mentor: User) -> None:
        data = await create_event_type(api, mentor, minimumBookingNotice=120, slotInterval=15, description="Talk")

        assert data["lengthInMinutes"] == 15
        assert data["slug"] == "thotis"
        assert data["locations"] == [MEET]
        assert data["minimumBookingNotice"] == 120
        assert data["slotInterval"] == 15
        assert data["ownerId"] == mentor.id
        assert data["users"][0]["username"] == "alice"
        assert {f["slug"] for f in data["bookingFields"]} >= {"name", "email", "notes"}

    async def test_defaults_to_cal_video_without_locations(self, api: httpx.AsyncClient, mentor: User) -> None:
        data = await create_event_type(api, mentor, locations=[])

        assert data["locations"] == [{"type": "integration", "integration": "cal-video"}]
        assert data["slotInterval"] is None

    async def test_ignores_unknown_fields_as_the_whitelisting_pipe_does(
        self, api: httpx.AsyncClient, mentor: User
    ) -> None:
        data = await create_event_type(api, mentor, hidden=True, somethingNew={"x": 1})

        assert "hidden" not in data
        assert "somethingNew" not in data

    async def test_refuses_a_duplicate_slug(self, api: httpx.AsyncClient, mentor: User) -> None:
        await create_event_type(api, mentor)
        body = {"title": "Again", "slug": "thotis", "lengthInMinutes": 15}

        response = await api.post("/v2/event-types", headers=auth(mentor, **EVENT_TYPES), json=body)

        assert response.status_code == 400
        assert response.json()["error"]["message"] == "User already has an event type with this slug."

    async def test_refuses_google_meet_until_connected(self, api: httpx.AsyncClient, sim: CalcomSimulator) -> None:
        user = sim.add_user("bob", "bob@example.com", google_meet=False)
        body = {"title": "T", "slug": "t", "lengthInMinutes": 15, "locations": [MEET]}

        response = await api.post("/v2/event-types", headers=auth(user, **EVENT_TYPES), json=body)

        assert response.status_code == 400
        assert response.json()["error"]["message"] == "google-meet not connected."

    async def test_reports_invalid_fields_as_validation_errors(self, api: httpx.AsyncClient, mentor: User) -> None:
        body = {"title": "T", "lengthInMinutes": "fifteen", "locations": [{"type": "integration", "integration": "x"}]}

        response = await api.post("/v2/event-types", headers=auth(mentor, **EVENT_TYPES), json=body)

        error = response.json()["error"]
        assert response.status_code == 400
        assert error["code"] == "BadRequestException"
        assert {e["property"] for e in error["details"]["errors"]} == {"lengthInMinutes", "slug", "locations"}

    async def test_custom_booking_fields_need_a_label(self, api: httpx.AsyncClient, mentor: User) -> None:
        body = {"title": "T", "slug": "t", "lengthInMinutes": 15, "bookingFields": [{"type": "textarea", "slug": "q"}]}

        response = await api.post("/v2/event-types", headers=auth(mentor, **EVENT_TYPES), json=body)

        [error] = response.json()["error"]["details"]["errors"]
        assert response.status_code == 400
        assert error["property"] == "bookingFields.0"
        assert {child["property"] for child in error["children"]} == {"label", "required"}


class TestReadEventTypes:
    async def test_gets_own_event_type(self, api: httpx.AsyncClient, mentor: User) -> None:
        created = await create_event_type(api, mentor)

        response = await api.get(f"/v2/event-types/{created['id']}", headers=auth(mentor, **EVENT_TYPES))

        assert response.status_code == 200
        assert response.json()["data"] == created

    async def test_hides_other_users_event_types(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, mentor: User
    ) -> None:
        created = await create_event_type(api, mentor)
        other = sim.add_user("bob", "bob@example.com")

        response = await api.get(f"/v2/event-types/{created['id']}", headers=auth(other, **EVENT_TYPES))

        assert response.status_code == 404
        assert response.json()["error"]["message"] == f"Event type with id {created['id']} not found"

    async def test_lists_by_username_without_auth_and_strips_hidden_fields(
        self, api: httpx.AsyncClient, mentor: User
    ) -> None:
        await create_event_type(api, mentor)
        await create_event_type(api, mentor, slug="other")

        response = await api.get("/v2/event-types", params={"username": "alice"}, headers=EVENT_TYPES)

        data = response.json()["data"]
        assert [et["slug"] for et in data] == ["thotis", "other"]
        assert all(f.get("hidden") is not True for et in data for f in et["bookingFields"])

    async def test_filters_the_list_by_event_slug(self, api: httpx.AsyncClient, mentor: User) -> None:
        await create_event_type(api, mentor)
        await create_event_type(api, mentor, slug="other")

        response = await api.get(
            "/v2/event-types", params={"username": "alice", "eventSlug": "other"}, headers=EVENT_TYPES
        )

        assert [et["slug"] for et in response.json()["data"]] == ["other"]

    async def test_an_empty_list_is_a_404(self, api: httpx.AsyncClient, mentor: User) -> None:
        response = await api.get("/v2/event-types", params={"username": "alice"}, headers=EVENT_TYPES)

        assert response.status_code == 404
        assert response.json()["error"]["message"] == "Event types not found"


class TestUpdateAndDeleteEventTypes:
    async def test_patch_changes_only_the_given_fields(self, api: httpx.AsyncClient, mentor: User) -> None:
        created = await create_event_type(api, mentor, minimumBookingNotice=60)

        response = await api.patch(
            f"/v2/event-types/{created['id']}", headers=auth(mentor, **EVENT_TYPES), json={"title": "New title"}
        )

        data = response.json()["data"]
        assert response.status_code == 200
        assert data["title"] == "New title"
        assert data["minimumBookingNotice"] == 60
        assert data["locations"] == [MEET]

    async def test_patch_by_another_user_is_forbidden(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, mentor: User
    ) -> None:
        created = await create_event_type(api, mentor)
        other = sim.add_user("bob", "bob@example.com")

        response = await api.patch(f"/v2/event-types/{created['id']}", headers=auth(other, **EVENT_TYPES), json={})

        assert response.status_code == 403

    async def test_delete_returns_the_summary_and_removes_it(self, api: httpx.AsyncClient, mentor: User) -> None:
        created = await create_event_type(api, mentor)

        response = await api.delete(f"/v2/event-types/{created['id']}", headers=auth(mentor, **EVENT_TYPES))
        again = await api.get(f"/v2/event-types/{created['id']}", headers=auth(mentor, **EVENT_TYPES))

        assert response.json()["data"] == {
            "id": created["id"],
            "lengthInMinutes": 15,
            "title": "Thotis session",
            "slug": "thotis",
        }
        assert again.status_code == 404

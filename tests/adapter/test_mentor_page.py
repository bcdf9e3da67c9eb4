"""/mentor over HTTP (R1, R7.1, R13): sign-in, profile edit with the API's validation, photo,
visibility, and the mentor's sessions with cancel and reschedule under the 2-hour rule."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from adapter.auth import Role
from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from core.clock import FixedClock
from tests.adapter.helpers import SERVICE, create_profile, token
from tests.adapter.test_availability import linked_mentor
from tests.adapter.test_bookings import SLOT, book, booking
from tests.factories import image_bytes, valid_body


async def signed_in(api: httpx.AsyncClient, mentor: str = "m1") -> str:
    api.cookies.clear()
    response = await api.post("/mentor/login", data={"token": token(Role.MENTOR, mentor)})
    assert response.status_code == 303, response.text
    page = await api.get("/mentor?lang=en")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found is not None
    return found.group(1)


class TestMentorSpace:
    async def test_only_a_mentor_token_signs_in_and_the_space_is_theirs(self, api: httpx.AsyncClient) -> None:
        api.cookies.clear()
        assert (await api.get("/mentor")).headers["location"] == "/mentor/login"
        admin = await api.post("/mentor/login?lang=en", data={"token": token(Role.ADMIN, "boss")})
        assert admin.status_code == 401 and "not a valid mentor token" in admin.text
        await create_profile(api, "m1", valid_body())
        await signed_in(api)
        page = await api.get("/mentor?lang=en")
        assert "My mentor space" in page.text and "camille@example.org" in page.text

    async def test_profile_edits_keep_the_apis_rules(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        csrf = await signed_in(api)
        form = {**valid_body(), "currentYear": "3", "csrf": csrf}
        form.pop("linkedInUrl")
        saved = await api.post("/mentor/profile?lang=en", data=form)
        assert saved.status_code == 303 and saved.headers["location"] == "/mentor?done=profile"
        stored = (await api.get("/api/v2/students/m1", headers=SERVICE)).json()["data"]
        assert stored["currentYear"] == 3 and stored["linkedInUrl"] is None
        bad = await api.post("/mentor/profile?lang=en", data={**form, "bio": "too short", "currentYear": "12"})
        assert bad.status_code == 400
        assert 'id="e-bio"' in bad.text and 'id="e-currentYear"' in bad.text and ">too short</textarea>" in bad.text
        forged = await api.post("/mentor/profile", data={**form, "csrf": "nope"})
        assert forged.status_code == 403

    async def test_photo_upload_shows_the_processed_400px_result(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        csrf = await signed_in(api)
        files = {"photo": ("me.png", image_bytes(800, 600, "PNG"), "image/png")}
        uploaded = await api.post("/mentor/photo", data={"csrf": csrf}, files=files)
        assert uploaded.status_code == 303
        page = await api.get("/mentor?done=photo&lang=en")
        photo = re.search(r'<img src="(/media/photos/[0-9a-f]{64}\.jpg)"[^>]*class="preview"', page.text)
        assert photo is not None and "Photo saved." in page.text
        bad = await api.post(
            "/mentor/photo?lang=en", data={"csrf": csrf}, files={"photo": ("x.png", b"nope", "image/png")}
        )
        assert bad.status_code == 400 and 'role="alert"' in bad.text

    async def test_visibility_toggles(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        csrf = await signed_in(api)
        await api.post("/mentor/status", data={"csrf": csrf, "active": "false"})
        assert (await api.get("/api/v2/students/m1", headers=SERVICE)).status_code == 404  # hidden from the public
        await api.post("/mentor/status", data={"csrf": csrf, "active": "true"})
        assert (await api.get("/api/v2/students/m1", headers=SERVICE)).status_code == 200

    async def test_sessions_can_be_rescheduled_then_cancelled(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        session = (await book(api, booking())).json()["data"]
        csrf = await signed_in(api)
        page = await api.get("/mentor?lang=en")
        assert "Léa Martin" in page.text and "Comment se passe la première année ?" in page.text
        options = re.findall(r'<option value="([^"]+T[^"]+)"', page.text)
        assert options and session["start"] not in options  # property 34: the current slot is not offered
        moved = await api.post(
            f"/mentor/sessions/{session['uid']}/reschedule", data={"csrf": csrf, "start": options[0]}
        )
        assert moved.status_code == 303, moved.text
        new = (await api.get(f"/api/v2/bookings/{session['uid']}", headers=SERVICE)).json()["data"]
        assert new["status"] == "cancelled" and new["rescheduledToUid"]
        cancel = await api.post(
            f"/mentor/sessions/{new['rescheduledToUid']}/cancel", data={"csrf": csrf, "reason": "Exam"}
        )
        assert cancel.status_code == 303
        gone = (await api.get(f"/api/v2/bookings/{new['rescheduledToUid']}", headers=SERVICE)).json()["data"]
        assert gone["status"] == "cancelled" and gone["cancellation"]["cancelledBy"] == "mentor"

    async def test_within_two_hours_nothing_can_be_changed(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        session = (await book(api, booking())).json()["data"]
        csrf = await signed_in(api)
        clock = services.clock
        assert isinstance(clock, FixedClock)
        clock.at = simulator.now = SLOT - timedelta(hours=1)
        page = await api.get("/mentor?lang=en")
        assert "Less than 2 hours before the start" in page.text and "Cancel the session" not in page.text
        refused = await api.post(f"/mentor/sessions/{session['uid']}/cancel?lang=en", data={"csrf": csrf})
        assert refused.status_code == 400 and 'role="alert"' in refused.text
        kept = (await api.get(f"/api/v2/bookings/{session['uid']}", headers=SERVICE)).json()["data"]
        assert kept["status"] == "scheduled"

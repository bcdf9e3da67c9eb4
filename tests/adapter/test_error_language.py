"""API error messages in the caller's language (seed task 22): French from the catalog, English as raised."""

from __future__ import annotations

import httpx

from core.i18n import translate
from tests.adapter.helpers import SERVICE, assert_error


class TestErrorLanguage:
    async def test_french_callers_get_the_french_message_of_the_code(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/api/v2/students/nobody", headers={**SERVICE, "Accept-Language": "fr-FR,fr;q=0.9"})
        body = assert_error(response, 404, "PROFILE_NOT_FOUND")
        assert body["message"] == translate("error.PROFILE_NOT_FOUND", "fr")
        assert response.headers["content-language"] == "fr"

    async def test_english_and_unknown_languages_keep_the_english_message(self, api: httpx.AsyncClient) -> None:
        for language in ("en-GB", "de", None):
            headers = {**SERVICE, **({"Accept-Language": language} if language else {})}
            response = await api.get("/api/v2/students/nobody", headers=headers)
            body = assert_error(response, 404, "PROFILE_NOT_FOUND")
            assert body["message"] != translate("error.PROFILE_NOT_FOUND", "fr")
            assert response.headers["content-language"] == "en"

    async def test_validation_details_stay_machine_readable_in_french(self, api: httpx.AsyncClient) -> None:
        response = await api.post(
            "/api/v2/bookings", json={"mentorId": 5}, headers={**SERVICE, "Accept-Language": "fr"}
        )
        body = assert_error(response, 400, "VALIDATION_ERROR")
        assert body["message"] == translate("error.VALIDATION_ERROR", "fr")
        assert body["details"]["errors"]

    async def test_framework_errors_are_translated_too(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/api/v2/no-such-route", headers={"Accept-Language": "fr"})
        body = assert_error(response, 404, "NOT_FOUND")
        assert body["message"] == translate("error.NOT_FOUND", "fr")

"""Oversized and abusive input: bodies over the limit, deep nesting, huge strings, pagination.

Every one is a 4xx with a stable code (413 for size) and never a 500; pagination is validated or
clamped so that no request can ask the database for an unbounded page or an overflowing offset.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from adapter.auth import Role
from adapter.services import Services
from tests.adapter.helpers import ADMIN, SERVICE, assert_error, auth, create_profile
from tests.factories import valid_body

API = "/api/v2"
MENTOR = auth(Role.MENTOR, "m1")

#: JSON routes and a body each accepts when sane; who may call them.
JSON_ROUTES = [
    ("POST", f"{API}/students/m1/profile", MENTOR),
    ("PUT", f"{API}/students/m1/profile", MENTOR),
    ("PATCH", f"{API}/students/m1/status", MENTOR),
    ("POST", f"{API}/bookings", SERVICE),
    ("PATCH", f"{API}/bookings/b1/reschedule", SERVICE),
    ("DELETE", f"{API}/bookings/b1", SERVICE),
    ("POST", f"{API}/bookings/b1/rating", SERVICE),
    ("POST", f"{API}/webhooks", ADMIN),
]


class TestBodies:
    async def test_every_operation_that_reads_a_body_documents_413(self, api: httpx.AsyncClient) -> None:
        document = (await api.get("/schema/openapi.json")).json()
        reading = {
            (method.upper(), path)
            for path, item in document["paths"].items()
            for method, operation in item.items()
            if "requestBody" in operation
        } | {("DELETE", "/api/v2/bookings/{uid}")}  # an optional JSON body, read by hand
        undocumented = sorted(
            f"{method} {path}"
            for method, path in reading
            if "413" not in document["paths"][path][method.lower()]["responses"]
        )
        assert not undocumented

    @pytest.mark.parametrize(("method", "path", "headers"), JSON_ROUTES)
    async def test_a_body_over_the_limit_is_413(
        self, api: httpx.AsyncClient, services: Services, method: str, path: str, headers: dict[str, str]
    ) -> None:
        limit = services.settings.max_body_bytes
        body = json.dumps({"name": "x" * (limit + 10)}).encode()
        response = await api.request(
            method, path, content=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert_error(response, 413, "PAYLOAD_TOO_LARGE")

    async def test_a_body_over_the_limit_without_content_length_is_413(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        limit = services.settings.max_body_bytes

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(limit // 65536 + 2):
                yield b" " * 65536

        response = await api.post(
            f"{API}/students/m1/profile", content=chunks(), headers={**MENTOR, "Content-Type": "application/json"}
        )
        assert_error(response, 413, "PAYLOAD_TOO_LARGE")

    @pytest.mark.parametrize("depth", [100, 5_000, 100_000])
    @pytest.mark.parametrize(("method", "path", "headers"), JSON_ROUTES)
    async def test_deeply_nested_json_is_a_400(
        self, api: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], depth: int
    ) -> None:
        for body in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
            response = await api.request(
                method, path, content=body.encode(), headers={**headers, "Content-Type": "application/json"}
            )
            assert 400 <= response.status_code < 500, (depth, response.status_code, response.text[:300])
            assert response.json()["status"] == "error"

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"null",
            b"{",
            b'{"name": "\\ud800"}',
            b"\xff\xfe\x00",
            b'{"a": NaN}',
            b"1e999999",
            b'"' + b"a" * 900_000 + b'"',
        ],
    )
    async def test_malformed_json_is_a_400(self, api: httpx.AsyncClient, body: bytes) -> None:
        await create_profile(api, "m1", valid_body())
        response = await api.put(
            f"{API}/students/m1/profile", content=body, headers={**MENTOR, "Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500, (body[:20], response.status_code, response.text[:300])
        assert response.json()["status"] == "error"

    @pytest.mark.parametrize("field", ["name", "university", "degree", "bio", "linkedInUrl", "email", "field"])
    async def test_a_huge_string_in_a_field_is_a_400(self, api: httpx.AsyncClient, field: str) -> None:
        response = await api.post(
            f"{API}/students/m1/profile", json=valid_body(**{field: "é" * 200_000}), headers=MENTOR
        )
        assert response.status_code == 400, response.text[:300]
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"

    async def test_huge_strings_in_a_booking_are_a_400(self, api: httpx.AsyncClient) -> None:
        for key in ("name", "email", "timeZone", "language", "question", "parentEmail"):
            body = {
                "mentorId": "m1",
                "start": "2030-01-01T10:00:00Z",
                "consent": True,
                "prospectiveStudent": {"name": "Léa", "email": "lea@example.org", "timeZone": "Europe/Paris",
                                       "language": "fr", key: "x" * 300_000},
            }  # fmt: skip
            response = await api.post(f"{API}/bookings", json=body, headers=SERVICE)
            assert response.status_code == 400, (key, response.status_code, response.text[:300])

    async def test_many_keys_or_a_huge_array_are_a_400(self, api: httpx.AsyncClient) -> None:
        many_keys = {f"k{i}": i for i in range(50_000)}
        response = await api.post(f"{API}/students/m1/profile", json={**valid_body(), **many_keys}, headers=MENTOR)
        assert response.status_code in (400, 413), response.status_code
        response = await api.post(
            f"{API}/webhooks",
            json={"url": "http://127.0.0.1:9/h", "events": ["booking.created"] * 100_000},
            headers=ADMIN,
        )
        assert response.status_code in (400, 413), response.status_code


LISTS = [
    (f"{API}/students/by-field/LAW", SERVICE),
    (f"{API}/students", SERVICE),
    (f"{API}/students/m1/ratings", SERVICE),
    (f"{API}/platform/mentors", ADMIN),
]
BAD_PAGES = ["-1", "0", "10000000000000", "1e3", "abc", "", "1.5", "99999999999999999999999", "0x10", " 1", "NaN"]
BAD_SIZES = ["-1", "0", "1000000000", "abc", "", "1.5", "99999999999999999999999", "NaN"]


class TestPagination:
    @pytest.mark.parametrize(("path", "headers"), LISTS)
    async def test_abusive_page_numbers_and_sizes_are_refused_or_clamped(
        self, api: httpx.AsyncClient, path: str, headers: dict[str, str]
    ) -> None:
        await create_profile(api, "m1", valid_body())
        for params in (
            [{"page": p} for p in BAD_PAGES]
            + [{"pageSize": s} for s in BAD_SIZES]
            + [
                {"page": "10000000000000", "pageSize": "100"},
                {"page": "92233720368547758", "pageSize": "100"},
            ]
        ):
            response = await api.get(path, params=params, headers=headers)
            assert response.status_code in (200, 400), (params, response.status_code, response.text[:300])
            body = response.json()
            if response.status_code == 400:
                assert body["error"]["code"] in ("VALIDATION_ERROR", "INVALID_PAGINATION"), body
            else:
                pagination = body["pagination"]
                assert 1 <= pagination["pageSize"] <= 100, (params, pagination)
                assert len(body["data"]) <= pagination["pageSize"]

    async def test_directory_page_numbers_never_fail(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        for page in [*BAD_PAGES, "92233720368547758070"]:
            response = await api.get("/mentors", params={"page": page})
            assert response.status_code == 200, (page, response.status_code)

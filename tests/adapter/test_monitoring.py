"""Monitoring (R16.1, R16.2, R20.4): Sentry reports identify the failure without personal data;
/platform/health and /metrics reflect the requests this process served."""

from __future__ import annotations

import json
import logging
import string
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import sentry_sdk
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport
from sqlalchemy.exc import IntegrityError, ProgrammingError

from adapter.app import create_app
from adapter.auth import Role
from adapter.guards import Access
from adapter.monitoring import FEATURE, init_sentry, scrub_event
from adapter.services import Services
from core.settings import Settings
from tests.adapter.helpers import ADMIN, SERVICE, assert_error, auth

STUDENT_EMAIL = "zephyrine.quatremare@lycee-exemple.fr"
STUDENT_NAME = "Zéphyrine Quatremare"
IDS = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=24)
#: API routes whose guard runs before anything else: (method, path with {id}).
ROUTES = [
    ("GET", "/api/v2/students/{id}"),
    ("GET", "/api/v2/students/{id}/stats"),
    ("POST", "/api/v2/students/{id}/profile"),
    ("PUT", "/api/v2/students/{id}/profile"),
    ("PATCH", "/api/v2/students/{id}/status"),
    ("GET", "/api/v2/bookings/{id}"),
    ("DELETE", "/api/v2/bookings/{id}"),
    ("DELETE", "/api/v2/webhooks/{id}"),
    ("GET", "/api/v2/platform/stats"),
]


class CapturingTransport(Transport):
    """Keeps every error event instead of sending it."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        event = envelope.get_event()
        if event is not None:
            self.events.append(dict(event))


@pytest.fixture
def sentry(test_settings: Settings) -> Iterator[CapturingTransport]:
    """Sentry on, into a capturing transport; off again afterwards so other tests are unaffected."""
    transport = CapturingTransport()
    settings = test_settings.model_copy(update={"sentry_dsn": SecretStr("https://public@sentry.invalid/1")})
    assert init_sentry(settings, transport=transport)
    try:
        yield transport
    finally:
        sentry_sdk.get_client().close()
        scope = sentry_sdk.get_global_scope()
        scope.set_client(None)
        scope.remove_tag("feature")
        assert not sentry_sdk.get_client().is_active()


async def _client(services: Services) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(services=services), client=("203.0.113.7", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def fresh(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A new app on the shared services: its own metrics, counting from zero."""
    async with await _client(services) as client:
        yield client


@pytest.fixture
async def reported(sentry: CapturingTransport, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A new app built once Sentry is on, so the Litestar integration hooks into it as in production."""
    async with await _client(services) as client:
        yield client


def fail_in_guard(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """Every API route fails unexpectedly once the caller is authenticated."""

    def check(self: Access, principal: object, path_params: dict[str, Any]) -> None:
        raise exc

    monkeypatch.setattr(Access, "check", check)


class TestSentryReports:
    @given(route=st.sampled_from(ROUTES), resource=IDS, user_id=IDS)
    async def test_property_35_a_reported_error_carries_user_method_path_code_and_feature(
        self,
        reported: httpx.AsyncClient,
        sentry: CapturingTransport,
        monkeypatch: pytest.MonkeyPatch,
        route: tuple[str, str],
        resource: str,
        user_id: str,
    ) -> None:
        fail_in_guard(monkeypatch, RuntimeError("unexpected"))
        method, template = route
        path = template.format(id=resource)
        before = len(sentry.events)
        response = await reported.request(method, path, json={}, headers=auth(Role.ADMIN, user_id))
        error = assert_error(response, 500, "INTERNAL_ERROR")
        (event,) = sentry.events[before:]  # one report, not one per integration
        assert event["tags"]["error_code"] == "INTERNAL_ERROR"
        assert event["tags"]["feature"] == FEATURE
        assert event["tags"]["http.method"] == method
        assert event["tags"]["request_id"] == error["requestId"]
        assert event["user"] == {"id": user_id}
        assert event["request"] == {"method": method, "url": path}
        assert event["exception"]["values"][-1]["type"] == "RuntimeError"

    async def test_a_dependency_outage_is_reported_with_its_code(
        self, reported: httpx.AsyncClient, sentry: CapturingTransport, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        fail_in_guard(monkeypatch, ConnectionRefusedError("database host refused"))
        before = len(sentry.events)
        response = await reported.get("/api/v2/platform/stats", headers=ADMIN)
        assert_error(response, 503, "DATABASE_UNAVAILABLE")
        (event,) = sentry.events[before:]
        assert event["tags"]["error_code"] == "DATABASE_UNAVAILABLE"
        assert event["user"] == {"id": "admin-1"}

    async def test_expected_failures_are_not_reported(
        self, reported: httpx.AsyncClient, sentry: CapturingTransport
    ) -> None:
        before = len(sentry.events)
        assert_error(await reported.get("/api/v2/students/nobody-here", headers=SERVICE), 404, "PROFILE_NOT_FOUND")
        assert_error(await reported.get("/api/v2/platform/stats"), 401, "UNAUTHORIZED")
        assert sentry.events[before:] == []

    async def test_personal_data_of_a_student_never_reaches_sentry(
        self, reported: httpx.AsyncClient, sentry: CapturingTransport, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def check(self: Access, principal: object, path_params: dict[str, Any]) -> None:
            sentry_sdk.set_extra("booking", {"studentName": STUDENT_NAME, "note": f"write to {STUDENT_EMAIL}"})
            sentry_sdk.add_breadcrumb(message=f"loading {STUDENT_EMAIL}", data={"student": STUDENT_NAME})
            logging.getLogger("thotis.test").warning("booking for %s", STUDENT_EMAIL)
            raise RuntimeError(f"cannot book {{'studentName': '{STUDENT_NAME}', 'email': '{STUDENT_EMAIL}'}}")

        monkeypatch.setattr(Access, "check", check)
        before = len(sentry.events)
        response = await reported.post(
            f"/api/v2/bookings?studentEmail={STUDENT_EMAIL}",
            json={"studentName": STUDENT_NAME, "studentEmail": STUDENT_EMAIL, "question": "Quelle prépa ?"},
            headers={**ADMIN, "Cookie": f"student={STUDENT_EMAIL}"},
        )
        assert_error(response, 500, "INTERNAL_ERROR")
        (event,) = sentry.events[before:]
        text = json.dumps(event, ensure_ascii=False, default=str)
        for secret in (STUDENT_EMAIL, "Zéphyrine", "Quatremare", "Quelle prépa", ADMIN["Authorization"][7:]):
            assert secret not in text
        assert "[email]" in text and "[scrubbed]" in text
        assert event["request"] == {"method": "POST", "url": "/api/v2/bookings"}


class TestScrubEvent:
    def test_request_keeps_method_path_and_technical_headers_only(self) -> None:
        event: Any = {
            "request": {
                "method": "POST",
                "url": f"http://testserver/api/v2/bookings?email={STUDENT_EMAIL}",
                "query_string": f"email={STUDENT_EMAIL}",
                "data": {"studentName": STUDENT_NAME},
                "cookies": {"session": "abc"},
                "headers": {"Authorization": "Bearer secret", "Content-Type": "application/json", "Cookie": "x=1"},
                "env": {"REMOTE_ADDR": "203.0.113.7"},
            },
            "user": {"id": "m1", "email": STUDENT_EMAIL, "ip_address": "203.0.113.7", "username": STUDENT_NAME},
        }
        cleaned = scrub_event(event, {})
        assert cleaned["request"] == {
            "method": "POST",
            "url": "http://testserver/api/v2/bookings",
            "headers": {"Content-Type": "application/json"},
        }
        assert cleaned["user"] == {"id": "m1"}

    @given(
        key=st.sampled_from(
            [
                *("email", "studentEmail", "parent_email", "name", "firstName", "student_name", "question"),
                *("feedback", "phone", "Authorization", "access_token", "cookie", "password", "apiKey", "api-key"),
                "secret",
            ]
        ),
        value=st.text(min_size=1, max_size=30),
        depth=st.integers(0, 4),
    )
    def test_sensitive_fields_are_scrubbed_at_any_depth(self, key: str, value: str, depth: int) -> None:
        nested: Any = {key: value}
        for _ in range(depth):
            nested = {"level": [nested]}
        cleaned = scrub_event({"extra": {"payload": nested}, "breadcrumbs": {"values": [{"data": nested}]}}, {})
        found: Any = cleaned["extra"]["payload"]
        for _ in range(depth):
            found = found["level"][0]
        assert found == {key: "[scrubbed]"}

    @given(local=st.text(alphabet=string.ascii_lowercase + ".", min_size=1, max_size=12).filter(lambda s: s[0] != "."))
    def test_email_addresses_are_masked_in_any_text(self, local: str) -> None:
        address = f"{local}@example.org"
        event: Any = {
            "exception": {"values": [{"type": "RuntimeError", "value": f"no profile for {address}!"}]},
            "logentry": {"message": f"sent to {address}", "params": [address]},
            "tags": {"hint": address},
        }
        assert address not in json.dumps(scrub_event(event, {}))

    def test_sdk_fields_and_file_names_stay(self) -> None:
        event: Any = {
            "sdk": {"name": "sentry.python", "version": "2"},
            "contexts": {"runtime": {"name": "CPython"}, "booking": {"studentName": STUDENT_NAME}},
            "exception": {"values": [{"stacktrace": {"frames": [{"filename": "adapter/errors.py"}]}}]},
        }
        cleaned = scrub_event(event, {})
        assert cleaned["sdk"] == event["sdk"]
        assert cleaned["contexts"] == {"runtime": {"name": "CPython"}, "booking": {"studentName": "[scrubbed]"}}
        assert cleaned["exception"] == event["exception"]


class TestErrorResponses:
    @given(
        kind=st.sampled_from(["runtime", "key", "attribute", "sql", "integrity", "custom"]),
        detail=st.text(min_size=0, max_size=40),
    )
    async def test_property_36_a_500_shows_no_stack_trace_sql_or_exception_name(
        self, session_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, kind: str, detail: str
    ) -> None:
        marker = "INTERNAL-DETAIL-7f3a"

        class InternalCacheCorruption(Exception):
            pass

        exc: Exception = {
            "runtime": RuntimeError(f"{marker} {detail}"),
            "key": KeyError(f"{marker} {detail}"),
            "attribute": AttributeError(f"'NoneType' object has no attribute '{marker}'"),
            "sql": ProgrammingError(f"SELECT * FROM thotis.sessions WHERE x = '{marker}'", {}, Exception(detail)),
            "integrity": IntegrityError(f"INSERT INTO thotis.ratings VALUES ('{marker}')", {}, Exception(detail)),
            "custom": InternalCacheCorruption(marker),
        }[kind]
        fail_in_guard(monkeypatch, exc)
        response = await session_client.get("/api/v2/platform/stats", headers=ADMIN)
        assert_error(response, 500, "INTERNAL_ERROR")
        for leak in (marker, type(exc).__name__, "SELECT", "INSERT", "thotis.", "Traceback", "line "):
            assert leak not in response.text


class TestPlatformHealth:
    async def test_reflects_the_requests_served_per_route(
        self, fresh: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for _ in range(3):
            assert (await fresh.get("/health/live")).status_code == 200
        assert_error(await fresh.get("/api/v2/students/nobody-here", headers=SERVICE), 404, "PROFILE_NOT_FOUND")
        with monkeypatch.context() as patch:
            fail_in_guard(patch, RuntimeError("unexpected"))
            assert_error(await fresh.get("/api/v2/platform/stats", headers=ADMIN), 500, "INTERNAL_ERROR")
        response = await fresh.get("/api/v2/platform/health", headers=ADMIN)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["requests"] == 5
        assert data["errorRate"] == pytest.approx(1 / 5)
        assert data["windowSeconds"] == 900
        assert data["uptimeSeconds"] > 0
        assert data["startedAt"].endswith("+00:00")
        assert data["p50Ms"] > 0 and data["p50Ms"] <= data["p95Ms"] <= data["p99Ms"]
        routes = {(r["method"], r["route"]): r for r in data["routes"]}
        assert routes[("GET", "/health/live")]["requests"] == 3
        assert data["routes"][0]["route"] == "/health/live"  # busiest first
        student = routes[("GET", "/api/v2/students/{user_id}")]
        assert (student["requests"], student["clientErrors"], student["errorRate"]) == (1, 1, 0.0)
        stats = routes[("GET", "/api/v2/platform/stats")]
        assert (stats["requests"], stats["serverErrors"], stats["errorRate"]) == (1, 1, 1.0)
        assert set(stats) == {
            "method",
            "route",
            "requests",
            "clientErrors",
            "serverErrors",
            "errorRate",
            "p50Ms",
            "p95Ms",
            "p99Ms",
        }

    async def test_counts_only_the_window_asked_for(self, fresh: httpx.AsyncClient) -> None:
        await fresh.get("/health/live")
        response = await fresh.get("/api/v2/platform/health?windowSeconds=86400", headers=ADMIN)
        assert response.json()["data"]["windowSeconds"] == 86_400
        assert response.json()["data"]["requests"] == 1

    async def test_requires_an_admin_token(self, fresh: httpx.AsyncClient) -> None:
        assert_error(await fresh.get("/api/v2/platform/health"), 401, "UNAUTHORIZED")
        assert_error(await fresh.get("/api/v2/platform/health", headers=SERVICE), 403, "ROLE_NOT_ALLOWED")

    @pytest.mark.parametrize("window", ["59", "86401", "abc", "1e3", "-60", "", " 900", "900.0", "9_00"])
    async def test_a_bad_window_answers_invalid_window(self, fresh: httpx.AsyncClient, window: str) -> None:
        response = await fresh.get("/api/v2/platform/health", params={"windowSeconds": window}, headers=ADMIN)
        assert_error(response, 400, "INVALID_WINDOW")

    async def test_is_documented_and_metrics_is_not(self, fresh: httpx.AsyncClient) -> None:
        paths = (await fresh.get("/schema/openapi.json")).json()["paths"]
        assert "get" in paths["/api/v2/platform/health"]
        assert "/metrics" not in paths


class TestPrometheusEndpoint:
    async def test_serves_parsable_text_with_the_request_counter(self, fresh: httpx.AsyncClient) -> None:
        await fresh.get("/health/live")
        response = await fresh.get("/metrics", headers=ADMIN)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(response.text)}
        requests = [s for s in families["thotis_http_requests"].samples if s.name == "thotis_http_requests_total"]
        assert any(
            s.labels == {"method": "GET", "route": "/health/live", "status": "200"} and s.value == 1 for s in requests
        )
        assert "thotis_http_request_duration_seconds" in families
        assert families["thotis_uptime_seconds"].samples[0].value > 0

    async def test_requires_an_admin_token(self, fresh: httpx.AsyncClient) -> None:
        assert_error(await fresh.get("/metrics"), 401, "UNAUTHORIZED")
        assert_error(await fresh.get("/metrics", headers=SERVICE), 403, "ROLE_NOT_ALLOWED")

"""Every documented API operation, fuzzed from the OpenAPI document with each role's token.

Schemathesis generates requests from `/schema/openapi.json`; they are sent in-process to the
app (on the test database and Redis) and each response must be no 5xx, a documented status, a
documented content type and a body matching the documented schema.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from adapter.auth import Role
from calcom_client.simulator import CalcomSimulator
from tests.adapter.helpers import token
from tests.security.conftest import FULL
from tests.security.helpers import booked_session

EXAMPLES = 150 if FULL else 25

#: Every operation of the document; the first test fails when a route is added and not listed.
OPERATIONS = [
    ("GET", "/api/v2/students/by-field/{field}"),
    ("GET", "/api/v2/students"),
    ("GET", "/api/v2/students/{user_id}"),
    ("POST", "/api/v2/students/{user_id}/profile"),
    ("PUT", "/api/v2/students/{user_id}/profile"),
    ("PATCH", "/api/v2/students/{user_id}/status"),
    ("GET", "/api/v2/students/{user_id}/stats"),
    ("PUT", "/api/v2/students/{user_id}/photo"),
    ("GET", "/api/v2/students/{user_id}/availability"),
    ("GET", "/api/v2/students/{user_id}/ratings"),
    ("POST", "/api/v2/bookings"),
    ("GET", "/api/v2/bookings/{uid}"),
    ("DELETE", "/api/v2/bookings/{uid}"),
    ("POST", "/api/v2/bookings/{uid}/complete"),
    ("PATCH", "/api/v2/bookings/{uid}/reschedule"),
    ("POST", "/api/v2/bookings/{uid}/rating"),
    ("POST", "/api/v2/bookings/{uid}/rating-link"),
    ("GET", "/api/v2/platform/reviews"),
    ("POST", "/api/v2/platform/reviews/{rating_id}/resolve"),
    ("GET", "/api/v2/platform/stats"),
    ("GET", "/api/v2/platform/mentors"),
    ("GET", "/api/v2/platform/export.csv"),
    ("GET", "/api/v2/platform/health"),
    ("GET", "/api/v2/platform/jobs"),
    ("GET", "/api/v2/privacy/export"),
    ("DELETE", "/api/v2/privacy/subjects/{email}"),
    ("GET", "/api/v2/webhooks"),
    ("POST", "/api/v2/webhooks"),
    ("GET", "/api/v2/webhooks/{endpoint_id}/deliveries"),
    ("POST", "/api/v2/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver"),
    ("DELETE", "/api/v2/webhooks/{endpoint_id}"),
    ("POST", "/api/v2/webhooks/{endpoint_id}/rotate-secret"),
    ("GET", "/media/photos/{name}"),
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("POST", "/webhooks/calcom"),
]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ROLES = [Role.ADMIN, Role.MENTOR, Role.SERVICE, Role.WIDGET]


@pytest.fixture(scope="module")
async def document(session_client: httpx.AsyncClient) -> dict[str, Any]:
    response = await session_client.get("/schema/openapi.json")
    assert response.status_code == 200
    loaded: dict[str, Any] = response.json()
    return loaded


@pytest.fixture(scope="module")
def schema(document: dict[str, Any]) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_dict(document)


class Seeded:
    """Ids that exist, so that some generated requests reach past the 404s."""

    def __init__(self, mentor: str, booking: str) -> None:
        self.values = {"user_id": mentor, "uid": booking, "field": "LAW", "email": "lea@example.org"}


@pytest.fixture
async def seeded(api: httpx.AsyncClient, simulator: CalcomSimulator) -> Seeded:
    return Seeded("m1", await booked_session(api, simulator))


def _subject(role: Role, case: schemathesis.Case) -> str:
    """Mentor and widget tokens name the mentor the request is about, when it names one."""
    if role in (Role.MENTOR, Role.WIDGET):
        path_id = (case.path_parameters or {}).get("user_id")
        if isinstance(path_id, str) and path_id:
            return path_id
        body = case.body if isinstance(case.body, dict) else {}
        mentor = body.get("mentorId")
        return mentor if isinstance(mentor, str) and mentor else "m1"
    return f"fuzz-{role.value}"


def _files(files: Any) -> list[tuple[str, Any]] | None:
    """Schemathesis builds `requests`-style multipart parts; httpx wants file contents as bytes."""
    if not files:
        return None
    parts = files.items() if isinstance(files, dict) else files
    converted: list[tuple[str, Any]] = []
    for name, value in parts:
        if isinstance(value, tuple):
            filename, content, *rest = value
            converted.append((name, (filename, _bytes(content), *rest)))
        else:
            converted.append((name, _bytes(value)))
    return converted


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return (value if isinstance(value, str) else json.dumps(value)).encode()


async def _send(client: httpx.AsyncClient, case: schemathesis.Case, headers: dict[str, str]) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    kwargs["headers"].update(headers)  # negative cases may drop the credentials; test_auth covers that
    data = kwargs.get("data")
    request = client.build_request(
        kwargs["method"],
        kwargs["url"],
        headers=kwargs["headers"],
        params=kwargs.get("params"),
        json=kwargs.get("json"),
        content=data if isinstance(data, str | bytes) else None,
        data=data if isinstance(data, dict) else None,
        files=_files(kwargs.get("files")),
    )
    request.read()  # a multipart body is a stream; the checks read what was sent
    return await client.send(request)


class TestSchemaFuzzing:
    async def test_every_operation_of_the_document_is_fuzzed(self, document: dict[str, Any]) -> None:
        documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
        assert documented == set(OPERATIONS)

    @pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
    async def test_responses_match_the_document_for_every_role(
        self,
        api: httpx.AsyncClient,
        schema: schemathesis.BaseSchema,
        seeded: Seeded,
        method: str,
        path: str,
    ) -> None:
        operation = schema[path][method]
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)
        failures: list[str] = []

        @settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck), deadline=None)
        @given(case=strategy, role=st.sampled_from(ROLES), existing=st.booleans())
        def generate(case: schemathesis.Case, role: Role, existing: bool) -> None:
            drawn.append((case, role, existing))

        # Hypothesis draws the cases first (its test function cannot await the app); each is then
        # sent and checked, and every failure is reported with the curl line that reproduces it.
        drawn: list[tuple[schemathesis.Case, Role, bool]] = []
        generate()
        for case, role, existing in drawn:
            if existing and case.path_parameters:
                for name in case.path_parameters:
                    if name in seeded.values:
                        case.path_parameters[name] = seeded.values[name]
            headers = {"Authorization": f"Bearer {token(role, _subject(role, case))}"}
            response = await _send(api, case, headers)
            try:
                case.validate_response(response, checks=CHECKS)
            except AssertionError as exc:  # schemathesis' FailureGroup
                failures.append(f"{role.value}: {exc}")
        assert not failures, "\n".join(failures)

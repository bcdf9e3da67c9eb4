"""The OpenAPI document lists every route with its bodies and error responses; CORS is restricted."""

from __future__ import annotations

import httpx

from tests.adapter.helpers import SERVICE


class TestOpenApi:
    async def test_schema_documents_every_route_and_error(self, api: httpx.AsyncClient) -> None:
        document = (await api.get("/schema/openapi.json")).json()
        paths = document["paths"]
        expected = {
            "/api/v2/students/by-field/{field}": ["get"],
            "/api/v2/students": ["get"],
            "/api/v2/students/{user_id}": ["get"],
            "/api/v2/students/{user_id}/profile": ["post", "put"],
            "/api/v2/students/{user_id}/status": ["patch"],
            "/api/v2/students/{user_id}/photo": ["put"],
            "/api/v2/students/{user_id}/stats": ["get"],
            "/api/v2/students/{user_id}/availability": ["get"],
            "/api/v2/bookings": ["post"],
            "/api/v2/bookings/{uid}": ["get", "delete"],
            "/api/v2/bookings/{uid}/reschedule": ["patch"],
            "/api/v2/bookings/{uid}/complete": ["post"],
            "/media/photos/{name}": ["get"],
            "/health/live": ["get"],
            "/health/ready": ["get"],
        }
        for path, methods in expected.items():
            assert path in paths, sorted(paths)
            for method in methods:
                operation = paths[path][method]
                assert operation.get("summary")
                if path.startswith("/api/"):
                    assert {"401", "429"} <= set(operation["responses"]), (path, method)
        assert "requestBody" in paths["/api/v2/students/{user_id}/profile"]["post"]
        assert "ErrorEnvelope" in str(document["components"]["schemas"])


class TestCors:
    async def test_allows_only_configured_origins(self, api: httpx.AsyncClient) -> None:
        allowed = await api.get("/api/v2/students/by-field/LAW", headers={**SERVICE, "Origin": "http://localhost:3000"})
        assert allowed.headers.get("access-control-allow-origin") == "http://localhost:3000"
        denied = await api.get("/api/v2/students/by-field/LAW", headers={**SERVICE, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in denied.headers

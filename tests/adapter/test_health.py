"""Health endpoints: live always, ready when the database answers."""

from __future__ import annotations

import httpx


class TestHealth:
    async def test_live_answers_the_envelope(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/health/live")
        assert response.status_code == 200
        assert response.json() == {"status": "success", "data": {"status": "ok", "checks": {}}}

    async def test_ready_checks_database_and_redis(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/health/ready")
        assert response.status_code == 200
        assert response.json()["data"] == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}

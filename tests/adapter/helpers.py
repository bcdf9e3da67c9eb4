"""Small helpers for API tests: tokens per role and profile creation through the API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from adapter.auth import Role, mint_token
from adapter.services import Services
from core.settings import DEMO_JWT_SECRET
from webhooks_in import inbox


def token(role: Role, sub: str = "tester", **kwargs: Any) -> str:
    return mint_token(DEMO_JWT_SECRET, "thotis", role=role, sub=sub, **kwargs)


def auth(role: Role, sub: str = "tester") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, sub)}"}


SERVICE = auth(Role.SERVICE, "thotis-website")
ADMIN = auth(Role.ADMIN, "admin-1")


async def create_profile(api: httpx.AsyncClient, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(f"/api/v2/students/{user_id}/profile", json=body, headers=auth(Role.MENTOR, user_id))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def set_active(api: httpx.AsyncClient, user_id: str, active: bool) -> httpx.Response:
    return await api.patch(
        f"/api/v2/students/{user_id}/status", json={"isActive": active}, headers=auth(Role.MENTOR, user_id)
    )


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the error envelope with this status and code; returns the error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error"
    assert set(body) == {"status", "error"}
    error: dict[str, Any] = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert error["requestId"]
    for leak in ("Traceback", "sqlalchemy", "asyncpg", "Exception", 'File "'):
        assert leak not in response.text
    return error


def inbox_deps(services: Services) -> inbox.InboxDeps:
    """What applying Cal.com webhooks needs, as the app configures it."""
    return inbox.InboxDeps(services.database, services.cache, services.clock, services.settings.cache_slots_ttl_seconds)


async def waiting_on_a_lock(services: Services) -> bool:
    """Whether some other connection to the test database waits for a lock (a row's, say)."""
    async with services.database.autocommit_sessionmaker() as db:
        waiting = await db.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        )
    return bool(waiting)


async def finishes_without_waiting(services: Services, work_done: Awaitable[Any]) -> Any:
    """Run `work_done` to its end, failing as soon as it (or anything else) waits for a lock."""
    task = asyncio.ensure_future(work_done)
    while not task.done():
        if await waiting_on_a_lock(services):
            task.cancel()
            pytest.fail("it waited for a lock held by work in progress")
        await asyncio.sleep(0.02)
    return task.result()

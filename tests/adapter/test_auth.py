"""API tokens (R8.5): every API route refuses a missing or bad token; roles and ownership hold."""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar import Litestar

from adapter.app import API_PREFIX
from adapter.auth import Role
from adapter.guards import api_access
from adapter.services import Services
from core.settings import DEMO_JWT_SECRET
from tests.adapter.helpers import ADMIN, SERVICE, assert_error, auth, create_profile, token
from tests.conftest import reset
from tests.factories import valid_body

API = "/api/v2/students"

#: Every API route of this issue, as (method, path).
ROUTES = [
    ("GET", f"{API}/by-field/LAW"),
    ("GET", API),
    ("GET", f"{API}/m1"),
    ("POST", f"{API}/m1/profile"),
    ("PUT", f"{API}/m1/profile"),
    ("PATCH", f"{API}/m1/status"),
    ("PUT", f"{API}/m1/photo"),
    ("GET", f"{API}/m1/stats"),
]


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {"sub": "m1", "role": "admin", "aud": "thotis", "iat": now, "exp": now + 600}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def bad_tokens() -> dict[str, str | None]:
    """Each kind of invalid credential, with the code it must produce."""
    now = int(time.time())
    return {
        "missing": None,
        "not a jwt": "not-a-jwt",
        "bad signature": jwt.encode(_claims(), "another-secret-that-is-long-enough-32", algorithm="HS256"),
        "expired": jwt.encode(_claims(iat=now - 7200, exp=now - 3600), DEMO_JWT_SECRET, algorithm="HS256"),
        "wrong audience": jwt.encode(_claims(aud="someone-else"), DEMO_JWT_SECRET, algorithm="HS256"),
        "alg none": _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(_claims()) + ".",
        "unknown role": jwt.encode(_claims(role="superuser"), DEMO_JWT_SECRET, algorithm="HS256"),
        "no exp": jwt.encode(_claims(exp=None), DEMO_JWT_SECRET, algorithm="HS256"),
        "no sub": jwt.encode(_claims(sub=None), DEMO_JWT_SECRET, algorithm="HS256"),
        "HS512": jwt.encode(_claims(), DEMO_JWT_SECRET, algorithm="HS512"),
        "basic scheme": "Basic dXNlcjpwYXNz",
    }


class TestTokens:
    @given(route=st.sampled_from(ROUTES), kind=st.sampled_from(sorted(bad_tokens())))
    async def test_property_23_every_api_route_without_a_valid_jwt_answers_401(
        self, session_client: httpx.AsyncClient, services: Services, route: tuple[str, str], kind: str
    ) -> None:
        await reset(services)
        method, path = route
        value = bad_tokens()[kind]
        if value is None:
            headers = {}
        elif value.startswith("Basic "):
            headers = {"Authorization": value}
        else:
            headers = {"Authorization": f"Bearer {value}"}
        response = await session_client.request(method, path, headers=headers, json=valid_body())
        assert response.status_code == 401, (kind, response.text)
        expected = {"expired": "TOKEN_EXPIRED", "missing": "UNAUTHORIZED", "basic scheme": "UNAUTHORIZED"}
        assert_error(response, 401, expected.get(kind, "INVALID_TOKEN"))

    async def test_valid_token_passes(self, api: httpx.AsyncClient) -> None:
        assert (await api.get(f"{API}/by-field/LAW", headers=SERVICE)).status_code == 200

    async def test_wrong_audience_says_so(self, api: httpx.AsyncClient) -> None:
        value = jwt.encode(_claims(aud="other"), DEMO_JWT_SECRET, algorithm="HS256")
        error = assert_error(await api.get(API, headers={"Authorization": f"Bearer {value}"}), 401, "INVALID_TOKEN")
        assert "audience" in error["message"]


class TestOwnership:
    async def test_mentor_token_cannot_change_another_mentors_profile(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        other = auth(Role.MENTOR, "m2")
        for method, path, body in (
            ("PUT", f"{API}/m1/profile", {"degree": "x"}),
            ("PATCH", f"{API}/m1/status", {"isActive": False}),
            ("POST", f"{API}/m1/profile", valid_body()),
        ):
            response = await api.request(method, path, json=body, headers=other)
            assert_error(response, 403, "NOT_OWNER")
        assert (await api.get(f"{API}/m1", headers=SERVICE)).json()["data"]["degree"] == "Licence de droit"

    async def test_mentor_cannot_read_another_mentors_private_view(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        assert_error(await api.get(f"{API}/m1", headers=auth(Role.MENTOR, "m2")), 403, "NOT_OWNER")

    async def test_service_token_cannot_write_profiles(self, api: httpx.AsyncClient) -> None:
        response = await api.post(f"{API}/m1/profile", json=valid_body(), headers=SERVICE)
        assert_error(response, 403, "ROLE_NOT_ALLOWED")

    async def test_mentor_token_cannot_search(self, api: httpx.AsyncClient) -> None:
        assert_error(await api.get(API, headers=auth(Role.MENTOR, "m1")), 403, "ROLE_NOT_ALLOWED")

    async def test_widget_token_reads_only_its_own_mentor(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        await create_profile(api, "m2", valid_body())
        widget = auth(Role.WIDGET, "m1")
        own = await api.get(f"{API}/m1", headers=widget)
        assert own.status_code == 200 and "email" not in own.json()["data"]
        assert_error(await api.get(f"{API}/m2", headers=widget), 403, "NOT_OWNER")
        assert (await api.get(f"{API}/by-field/LAW", headers=widget)).status_code == 200
        assert_error(await api.put(f"{API}/m1/profile", json={}, headers=widget), 403, "ROLE_NOT_ALLOWED")

    async def test_admin_may_do_everything_on_any_profile(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        response = await api.patch(f"{API}/m1/status", json={"isActive": False}, headers=ADMIN)
        assert response.status_code == 200 and response.json()["data"]["isActive"] is False


class TestTokenMinting:
    def test_minted_token_carries_the_required_claims(self) -> None:
        claims = jwt.decode(
            token(Role.MENTOR, "m1", ttl_seconds=60), DEMO_JWT_SECRET, algorithms=["HS256"], audience="thotis"
        )
        assert claims["sub"] == "m1" and claims["role"] == "mentor"
        assert claims["exp"] - claims["iat"] == 60


class TestVerifiedTokenCache:
    async def test_a_cached_token_still_expires(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import adapter.auth as auth_module
        from adapter.auth import TokenExpired, TokenVerifier

        verifier = TokenVerifier(DEMO_JWT_SECRET, "thotis", leeway_seconds=0)
        value = token(Role.SERVICE, "website", ttl_seconds=30)
        assert (await verifier.verify(value)).sub == "website"
        assert (await verifier.verify(value)).sub == "website"  # from the cache
        later = time.time() + 31
        monkeypatch.setattr(auth_module.time, "time", lambda: later)
        monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime(later), raising=False)
        with pytest.raises(TokenExpired):
            await verifier.verify(value)


class _FrozenDatetime:
    """Stands in for datetime inside PyJWT so its expiry check sees the same 'later'."""

    def __init__(self, at: float) -> None:
        import datetime as real

        self._real = real.datetime
        self._at = at

    def now(self, tz: object = None) -> object:
        return self._real.fromtimestamp(self._at, tz)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


class TestEveryApiRouteIsChecked:
    def test_every_api_handler_runs_the_api_check_first(self, app: Litestar) -> None:
        """The check is the API router's before-request hook (adapter.guards.api_access); a handler
        that set its own hook would replace it silently, so each one's resolved hook is looked at."""
        checked = [
            (route.path, handler.resolve_before_request())
            for route in app.routes
            if route.path.startswith(API_PREFIX)
            for handler in getattr(route, "route_handlers", ())
        ]
        assert len(checked) > 30
        assert [(path, hook) for path, hook in checked if hook is not api_access] == []

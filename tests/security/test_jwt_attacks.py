"""Forged, stale and misused tokens: each is refused with 401 or 403 and its stable error code.

Extends tests/adapter/test_auth.py (which covers a missing token, garbage, a bad signature, an
expired token, a wrong audience, `alg=none`, an unknown role, no `exp`/`sub`, HS512) with the
other ways a bearer token is attacked.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from adapter.auth import InvalidToken, Role, TokenVerifier
from calcom_client.simulator import CalcomSimulator
from core.errors import Unauthenticated
from core.settings import DEMO_JWT_SECRET
from tests.adapter.helpers import ADMIN, SERVICE, assert_error, auth, create_profile
from tests.factories import valid_body
from tests.security.helpers import booked_session, booking_body

API = "/api/v2"
TARGET = f"{API}/students/by-field/LAW"  # any API route: service, widget and admin may read it
JWKS_URL = "https://issuer.example/.well-known/jwks.json"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value).encode())


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "m1", "role": "service", "aud": "thotis", "iat": now, "exp": now + 600}
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _signed(claims: dict[str, Any], **headers: Any) -> str:
    return jwt.encode(claims, DEMO_JWT_SECRET, algorithm="HS256", headers=headers or None)


def _hs256_by_hand(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    """An HS256 JWT built without PyJWT, which refuses PEM keys as HMAC secrets."""
    import hashlib
    import hmac

    signing_input = f"{_segment(header)}.{_segment(claims)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public.update({"kid": "k1", "alg": "RS256", "use": "sig"})
    return {"keys": [public]}


def _forgeries() -> dict[str, str]:
    """HS256-family forgeries, each refused as INVALID_TOKEN."""
    now = int(time.time())
    valid = _signed(_claims())
    header, payload, signature = valid.split(".")
    admin_payload = _segment(_claims(role="admin"))
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    forgeries = {
        "alg None (capitalised)": f"{_segment({'alg': 'None', 'typ': 'JWT'})}.{payload}.",
        "alg NONE with the original signature": f"{_segment({'alg': 'NONE'})}.{payload}.{signature}",
        "alg none, empty header": f"{_segment({})}.{payload}.",
        "tampered signature": f"{header}.{payload}.{flipped}",
        "signature removed": f"{header}.{payload}.",
        "payload swapped for an admin one": f"{header}.{admin_payload}.{signature}",
        "not yet valid (nbf in an hour)": _signed(_claims(nbf=now + 3600)),
        "issued in the future (iat in an hour)": _signed(_claims(iat=now + 3600, exp=now + 7200)),
        "audience list without ours": _signed(_claims(aud=["other", "thotis-admin"])),
        "audience differing in case": _signed(_claims(aud="THOTIS")),
        "role as a list": _signed(_claims(role=["admin"])),
        "role differing in case": _signed(_claims(role="ADMIN")),
        "empty subject": _signed(_claims(sub="")),
        "numeric subject": _signed(_claims(sub=42)),
        "exp not a number": _signed(_claims(exp="never")),
        "signed with an empty secret": _hs256_by_hand({"alg": "HS256", "typ": "JWT"}, _claims(), b""),
        "two segments only": f"{header}.{payload}",
        "four segments": f"{valid}.{signature}",
        "header not JSON": f"{_b64(b'not json')}.{payload}.{signature}",
        "huge garbage": "A" * 60_000,
    }
    for claim in ("sub", "role", "aud", "exp", "iat"):
        forgeries[f"no {claim}"] = _signed(_claims(**{claim: None}))
    return forgeries


class TestForgedTokens:
    @pytest.mark.parametrize("kind", sorted(_forgeries()))
    async def test_forged_or_malformed_token_is_refused(self, api: httpx.AsyncClient, kind: str) -> None:
        assert_error(await api.get(TARGET, headers=_bearer(_forgeries()[kind])), 401, "INVALID_TOKEN")

    async def test_expired_token_is_refused_beyond_the_leeway(self, api: httpx.AsyncClient) -> None:
        now = int(time.time())
        stale = _signed(_claims(iat=now - 120, exp=now - 30))  # the leeway is 5 s
        assert_error(await api.get(TARGET, headers=_bearer(stale)), 401, "TOKEN_EXPIRED")

    async def test_a_token_refused_once_stays_refused_and_a_valid_one_is_not_poisoned(
        self, api: httpx.AsyncClient
    ) -> None:
        valid = _signed(_claims())
        header, _, signature = valid.split(".")
        forged = f"{header}.{_segment(_claims(role='admin'))}.{signature}"
        for _ in range(2):  # the verified-token cache must not learn a forged token
            assert_error(await api.get(f"{API}/platform/jobs", headers=_bearer(forged)), 401, "INVALID_TOKEN")
        assert (await api.get(TARGET, headers=_bearer(valid))).status_code == 200
        assert_error(await api.get(f"{API}/platform/jobs", headers=_bearer(valid)), 403, "ROLE_NOT_ALLOWED")

    async def test_injected_key_headers_are_ignored(self, api: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey) -> None:
        """`jku`, `x5u` and an embedded `jwk` are attacker-chosen keys: never fetched nor trusted."""
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
        injected = ({"jku": "https://evil.example/jwks.json"}, {"x5u": "https://evil.example/c.pem"}, {"jwk": public})
        for header in injected:
            forged = jwt.encode(_claims(role="admin"), rsa_key, algorithm="RS256", headers=header)
            assert_error(await api.get(TARGET, headers=_bearer(forged)), 401, "INVALID_TOKEN")

    async def test_a_token_for_another_role_claim_keeps_its_own_rights(self, api: httpx.AsyncClient) -> None:
        """A rating-link token (the lowest right) opens no API route but the rating of its session."""
        rating = _signed(_claims(role="rating", sub="some-session"))
        for method, path in (("GET", TARGET), ("GET", f"{API}/students/m1"), ("GET", f"{API}/platform/jobs")):
            assert_error(await api.request(method, path, headers=_bearer(rating)), 403, "ROLE_NOT_ALLOWED")


class TestAlgorithmConfusion:
    """With a JWKS configured, a token must verify with the algorithm family of the key it names."""

    @respx.mock
    async def test_hs256_signed_with_the_public_key_is_refused(self, rsa_key: rsa.RSAPrivateKey) -> None:
        respx.get(JWKS_URL).mock(return_value=httpx.Response(200, json=_jwks(rsa_key)))
        verifier = TokenVerifier(DEMO_JWT_SECRET, "thotis", jwks_url=JWKS_URL)
        pem = rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        jwk_json = json.dumps(_jwks(rsa_key)["keys"][0]).encode()
        for key in (pem, jwk_json):
            forged = _hs256_by_hand({"alg": "HS256", "kid": "k1", "typ": "JWT"}, _claims(role="admin"), key)
            with pytest.raises(InvalidToken):
                await verifier.verify(forged)

    @respx.mock
    async def test_a_key_of_another_family_than_the_algorithm_is_refused(self, rsa_key: rsa.RSAPrivateKey) -> None:
        """ES256 or EdDSA named in the header, the JWKS key is RSA: a 401, not a crash."""
        respx.get(JWKS_URL).mock(return_value=httpx.Response(200, json=_jwks(rsa_key)))
        verifier = TokenVerifier(DEMO_JWT_SECRET, "thotis", jwks_url=JWKS_URL)
        ec_key = ec.generate_private_key(ec.SECP256R1())
        forged = jwt.encode(_claims(role="admin"), ec_key, algorithm="ES256", headers={"kid": "k1"})
        with pytest.raises(InvalidToken):
            await verifier.verify(forged)
        edd = f"{_segment({'alg': 'EdDSA', 'kid': 'k1'})}.{_segment(_claims(role='admin'))}.{_b64(b'x' * 64)}"
        with pytest.raises(InvalidToken):
            await verifier.verify(edd)

    @respx.mock
    async def test_rs256_token_with_claims_wrong_is_refused(self, rsa_key: rsa.RSAPrivateKey) -> None:
        respx.get(JWKS_URL).mock(return_value=httpx.Response(200, json=_jwks(rsa_key)))
        verifier = TokenVerifier(DEMO_JWT_SECRET, "thotis", jwks_url=JWKS_URL)
        now = int(time.time())
        for claims in (
            _claims(aud="other"),
            _claims(iat=now - 7200, exp=now - 3600),
            _claims(nbf=now + 3600),
            _claims(role="root"),
            _claims(iat=None),
        ):
            with pytest.raises(Unauthenticated):
                await verifier.verify(jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "k1"}))

    async def test_asymmetric_tokens_are_refused_without_a_jwks(self) -> None:
        verifier = TokenVerifier(DEMO_JWT_SECRET, "thotis")
        ec_key = ec.generate_private_key(ec.SECP256R1())
        with pytest.raises(InvalidToken):
            await verifier.verify(jwt.encode(_claims(), ec_key, algorithm="ES256"))


class TestMentorsActOnlyOnTheirOwn:
    async def test_a_mentor_cannot_upload_another_mentors_photo(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        files = {"file": ("me.png", b"\x89PNG\r\n\x1a\n", "image/png")}
        response = await api.put(f"{API}/students/m1/photo", files=files, headers=auth(Role.MENTOR, "m2"))
        assert_error(response, 403, "NOT_OWNER")
        assert (await api.get(f"{API}/students/m1", headers=SERVICE)).json()["data"]["profilePhotoUrl"] is None

    async def test_a_mentor_cannot_read_another_mentors_stats_or_ratings(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        other = auth(Role.MENTOR, "m2")
        for path in (f"{API}/students/m1/stats", f"{API}/students/m1/ratings"):
            assert_error(await api.get(path, headers=other), 403, "NOT_OWNER")

    async def test_a_mentor_cannot_touch_another_mentors_session(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        uid = await booked_session(api, simulator, "m1")
        await create_profile(api, "m2", valid_body())
        other = auth(Role.MENTOR, "m2")
        new_start = booking_body(start_offset_minutes=60)["start"]
        attempts = (
            ("GET", f"{API}/bookings/{uid}", None),
            ("DELETE", f"{API}/bookings/{uid}", {"reason": "x", "cancelledBy": "mentor"}),
            ("PATCH", f"{API}/bookings/{uid}/reschedule", {"start": new_start}),
            ("POST", f"{API}/bookings/{uid}/complete", None),
        )
        for method, path, body in attempts:
            assert_error(await api.request(method, path, json=body, headers=other), 403, "NOT_OWNER")
        session = (await api.get(f"{API}/bookings/{uid}", headers=SERVICE)).json()["data"]
        assert session["status"] == "scheduled" and session["uid"] == uid
        assert (await api.get(f"{API}/bookings/{uid}", headers=auth(Role.MENTOR, "m1"))).status_code == 200

    async def test_a_mentor_cannot_call_admin_routes(self, api: httpx.AsyncClient) -> None:
        mentor = auth(Role.MENTOR, "m1")
        for method, path in (
            ("GET", f"{API}/platform/stats"),
            ("GET", f"{API}/platform/mentors"),
            ("GET", f"{API}/platform/export.csv?report=sessions"),
            ("GET", f"{API}/webhooks"),
            ("GET", f"{API}/privacy/export?email=lea@example.org"),
            ("DELETE", f"{API}/privacy/subjects/lea@example.org"),
        ):
            assert_error(await api.request(method, path, headers=mentor), 403, "ROLE_NOT_ALLOWED")
        assert (await api.get(f"{API}/platform/stats", headers=ADMIN)).status_code == 200


class TestWidgetTokens:
    async def test_a_widget_token_for_one_mentor_cannot_book_or_see_another(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        await booked_session(api, simulator, "m2")
        widget = auth(Role.WIDGET, "m1")
        response = await api.post(f"{API}/bookings", json=booking_body("m2", 30), headers=widget)
        assert_error(response, 403, "NOT_OWNER")
        assert_error(await api.get(f"{API}/students/m2/availability", headers=widget), 403, "NOT_OWNER")
        assert_error(await api.get(f"{API}/students/m2", headers=widget), 403, "NOT_OWNER")

    async def test_a_widget_token_cannot_read_change_or_cancel_sessions(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        uid = await booked_session(api, simulator, "m1")
        widget = auth(Role.WIDGET, "m1")
        for method, path in (
            ("GET", f"{API}/bookings/{uid}"),
            ("DELETE", f"{API}/bookings/{uid}"),
            ("POST", f"{API}/bookings/{uid}/complete"),
            ("POST", f"{API}/bookings/{uid}/rating-link"),
            ("GET", f"{API}/students/m1/stats"),
            ("GET", f"{API}/students"),
            ("PUT", f"{API}/students/m1/photo"),
        ):
            assert_error(await api.request(method, path, headers=widget), 403, "ROLE_NOT_ALLOWED")


class TestIssuer:
    """With `THOTIS_JWT_ISSUER` set, a token from another issuer is refused."""

    ISSUER = "https://issuer.example/"

    @respx.mock
    async def test_jwks_tokens_must_name_the_configured_issuer(self, rsa_key: rsa.RSAPrivateKey) -> None:
        respx.get(JWKS_URL).mock(return_value=httpx.Response(200, json=_jwks(rsa_key)))
        verifier = TokenVerifier(DEMO_JWT_SECRET, "thotis", jwks_url=JWKS_URL, issuer=self.ISSUER)

        def signed(**claims: Any) -> str:
            return jwt.encode(_claims(**claims), rsa_key, algorithm="RS256", headers={"kid": "k1"})

        assert (await verifier.verify(signed(iss=self.ISSUER))).role is Role.SERVICE
        for wrong in ("https://evil.example/", self.ISSUER.rstrip("/"), "", None):
            with pytest.raises(InvalidToken):
                await verifier.verify(signed(iss=wrong))

    async def test_shared_secret_tokens_may_name_no_issuer_but_never_another(self) -> None:
        verifier = TokenVerifier(DEMO_JWT_SECRET, "thotis", issuer=self.ISSUER)
        assert (await verifier.verify(_signed(_claims()))).sub == "m1"
        assert (await verifier.verify(_signed(_claims(iss=self.ISSUER)))).sub == "m1"
        for wrong in ("https://evil.example/", ["https://issuer.example/"], 7):
            forged = _hs256_by_hand({"alg": "HS256", "typ": "JWT"}, _claims(iss=wrong), DEMO_JWT_SECRET.encode())
            with pytest.raises(InvalidToken):
                await verifier.verify(forged)

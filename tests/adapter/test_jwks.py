"""Tokens signed elsewhere (RS256) verify against the configured JWKS; its outage is a 503."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import rsa

from adapter.auth import Principal, Role, TokenVerifier
from core.errors import DependencyUnavailable, Unauthenticated

JWKS_URL = "https://issuer.example/.well-known/jwks.json"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks(key: rsa.RSAPrivateKey) -> dict[str, object]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public.update({"kid": "k1", "alg": "RS256", "use": "sig"})
    return {"keys": [public]}


def _token(key: rsa.RSAPrivateKey, kid: str = "k1", **claims: object) -> str:
    now = int(time.time())
    body = {"sub": "website", "role": "service", "aud": "thotis", "iat": now, "exp": now + 60, **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


class TestJwks:
    @respx.mock
    async def test_rs256_token_verifies_with_the_published_key(self, key: rsa.RSAPrivateKey) -> None:
        route = respx.get(JWKS_URL).mock(return_value=httpx.Response(200, json=_jwks(key)))
        verifier = TokenVerifier("hs-secret-hs-secret-hs-secret-123", "thotis", jwks_url=JWKS_URL)
        assert await verifier.verify(_token(key)) == Principal("website", Role.SERVICE)
        assert await verifier.verify(_token(key)) == Principal("website", Role.SERVICE)
        assert route.call_count == 1  # keys are cached

    @respx.mock
    async def test_unknown_kid_and_other_key_are_refused(self, key: rsa.RSAPrivateKey) -> None:
        respx.get(JWKS_URL).mock(return_value=httpx.Response(200, json=_jwks(key)))
        verifier = TokenVerifier("hs-secret-hs-secret-hs-secret-123", "thotis", jwks_url=JWKS_URL)
        with pytest.raises(Unauthenticated):
            await verifier.verify(_token(key, kid="k2"))
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        with pytest.raises(Unauthenticated):
            await verifier.verify(_token(other))

    async def test_rs256_is_refused_without_a_jwks_url(self, key: rsa.RSAPrivateKey) -> None:
        verifier = TokenVerifier("hs-secret-hs-secret-hs-secret-123", "thotis")
        with pytest.raises(Unauthenticated):
            await verifier.verify(_token(key))

    @respx.mock
    async def test_jwks_outage_is_a_dependency_failure(self, key: rsa.RSAPrivateKey) -> None:
        respx.get(JWKS_URL).mock(return_value=httpx.Response(503))
        verifier = TokenVerifier("hs-secret-hs-secret-hs-secret-123", "thotis", jwks_url=JWKS_URL)
        with pytest.raises(DependencyUnavailable):
            await verifier.verify(_token(key))

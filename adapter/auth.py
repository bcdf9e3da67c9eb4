"""API tokens (R8.5): verify bearer JWTs, mint them for operators, tests and the widget.

HS256 with the configured secret; optionally RS256/ES256/EdDSA keys from a JWKS URL. The
accepted algorithms are fixed here, never taken from the token, so `alg=none` and algorithm
confusion are refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from core.errors import DependencyUnavailable, Unauthenticated
from core.tokens import Role, mint_token

__all__ = ["Role", "mint_token"]  # re-exported: callers mint and check roles through the adapter

_ASYMMETRIC = ["RS256", "ES256", "EdDSA"]
_REQUIRED_CLAIMS = ["sub", "role", "aud", "exp", "iat"]
_VERIFIED_CACHE_SIZE = 10_000
_VERIFIED_CACHE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller: subject and role from the token."""

    sub: str
    role: Role


class InvalidToken(Unauthenticated):
    code = "INVALID_TOKEN"
    default_message = "The bearer token is invalid."


class TokenExpired(Unauthenticated):
    code = "TOKEN_EXPIRED"
    default_message = "The bearer token has expired."


class MissingToken(Unauthenticated):
    code = "UNAUTHORIZED"
    default_message = "A bearer token is required: Authorization: Bearer <JWT>."


class TokenVerifier:
    """Checks signature, audience, expiry and role of a bearer token."""

    def __init__(
        self,
        secret: str,
        audience: str,
        *,
        jwks_url: str | None = None,
        issuer: str | None = None,
        http: httpx.AsyncClient | None = None,
        jwks_ttl_seconds: int = 600,
        leeway_seconds: int = 5,
    ) -> None:
        self._secret = secret
        self._audience = audience
        self._jwks_url = jwks_url
        self._issuer = issuer
        self._http = http
        self._jwks_ttl = jwks_ttl_seconds
        self._jwks: jwt.PyJWKSet | None = None
        self._jwks_fetched_at = 0.0
        self._leeway = leeway_seconds
        # Verified tokens, briefly: the website sends the same token on every call, and
        # re-checking its signature is a large share of a cached read's CPU.
        self._verified: dict[str, tuple[Principal, float]] = {}

    async def verify(self, token: str) -> Principal:
        """Raises:
        InvalidToken, TokenExpired
        """
        cached = self._verified.get(token)
        if cached is not None:
            principal, valid_until = cached
            if time.time() < valid_until:
                return principal
            del self._verified[token]
        principal, expires_at = await self._verify_uncached(token)
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (principal, min(expires_at, time.time() + _VERIFIED_CACHE_SECONDS))
        return principal

    async def _verify_uncached(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("The bearer token is not a well-formed JWT.") from exc
        algorithm = header.get("alg")
        if algorithm == "HS256":
            key: Any = self._secret
        elif algorithm in _ASYMMETRIC and self._jwks_url:
            key = await self._signing_key(header.get("kid"), algorithm)
        else:
            raise InvalidToken("The token's signing algorithm is not accepted.")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._audience,
                leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired() from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("The token is not meant for this service (audience).") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken() from exc
        if self._issuer is not None:
            # Tokens from the identity provider (JWKS) must say they are; HS256 ones, minted here
            # and by the website with the shared secret, may name no issuer, but never another.
            issuer = claims.get("iss")
            if (issuer is not None or algorithm != "HS256") and issuer != self._issuer:
                raise InvalidToken("The token was issued by someone else (issuer).")
        try:
            role = Role(claims["role"])
        except ValueError as exc:
            raise InvalidToken("The token's role is not known.") from exc
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub:
            raise InvalidToken("The token's subject is missing.")
        return Principal(sub=sub, role=role), float(claims["exp"])

    async def _signing_key(self, kid: str | None, algorithm: str) -> Any:
        """The published key the token names, only if it is of the token's algorithm: an ES256
        header naming an RSA key is a forgery, not a reason to crash."""
        now = time.monotonic()
        if self._jwks is None or now - self._jwks_fetched_at > self._jwks_ttl:
            await self._refresh_jwks()
        assert self._jwks is not None
        for key in self._jwks.keys:
            if (kid is None or key.key_id == kid) and key.algorithm_name == algorithm:
                return key.key
        raise InvalidToken("The token's signing key is not known.")

    async def _refresh_jwks(self) -> None:
        assert self._jwks_url is not None
        client = self._http or httpx.AsyncClient(timeout=5)
        try:
            response = await client.get(self._jwks_url)
            response.raise_for_status()
            self._jwks = jwt.PyJWKSet.from_dict(response.json())
            self._jwks_fetched_at = time.monotonic()
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            raise DependencyUnavailable(
                "The token signing keys cannot be fetched, try again shortly.", code="JWKS_UNAVAILABLE"
            ) from exc
        finally:
            if self._http is None:
                await client.aclose()


def bearer_token(authorization: str | None) -> str:
    """Raises:
    MissingToken: no `Authorization: Bearer …` header.
    """
    if not authorization:
        raise MissingToken()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MissingToken("The Authorization header must be: Bearer <JWT>.")
    return token.strip()

"""Minting API tokens: roles and signed HS256 JWTs, for operators, tests, the widget and emails.

Verification lives with the HTTP adapter; minting is here because jobs mint too (the rating link
of a feedback email is a token).
"""

from __future__ import annotations

import time
from datetime import timedelta
from enum import StrEnum

import jwt

#: How long a rating link stays usable (R19.1): two weeks after it is sent.
RATING_LINK_TTL = timedelta(days=14)


class Role(StrEnum):
    """Who is calling the API."""

    SERVICE = "service"
    MENTOR = "mentor"
    ADMIN = "admin"
    WIDGET = "widget"
    RATING = "rating"  # a rating link: may only rate the one session it names (`sub` = its uid)


def mint_token(secret: str, audience: str, *, role: Role, sub: str, ttl_seconds: int = 3600) -> str:
    """An HS256 token for `sub` with `role`, valid for `ttl_seconds`."""
    now = int(time.time())
    claims = {"sub": sub, "role": role.value, "aud": audience, "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm="HS256")


def rating_token(secret: str, audience: str, session_uid: str) -> str:
    """The signed, expiring token of a session's rating link: it may rate that session only."""
    ttl = int(RATING_LINK_TTL.total_seconds())
    return mint_token(secret, audience, role=Role.RATING, sub=session_uid, ttl_seconds=ttl)

"""Signing in to the browser pages with an API token, kept in an HttpOnly, SameSite cookie.

An administrator (or a mentor, for the mentor space) pastes their token once; the sidecar checks
it and sets its own short-lived session token in a cookie scripts cannot read and other sites
cannot send. Forms that change something carry a CSRF token derived from that session token,
so a page on another site cannot submit them even in a browser that ignores SameSite.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie

from adapter.auth import Principal, Role
from adapter.guards import services_of
from core.errors import Forbidden, Unauthenticated
from core.tokens import mint_token

SESSION_SECONDS = 8 * 3600


def cookie_name(role: Role) -> str:
    return f"thotis_{role.value}"


async def session_principal(request: Request[Any, Any, Any], role: Role) -> Principal | None:
    """Who is signed in with `role` (None when nobody, or the session expired)."""
    token = request.cookies.get(cookie_name(role))
    if not token:
        return None
    try:
        principal = await services_of(request).verifier.verify(token)
    except Unauthenticated:
        return None
    return principal if principal.role is role else None


async def start_session(request: Request[Any, Any, Any], api_token: str, role: Role) -> Cookie | None:
    """A session cookie for the holder of `api_token` when it is a valid token of `role`."""
    try:
        principal = await services_of(request).verifier.verify(api_token.strip())
    except Unauthenticated:
        return None
    if principal.role is not role:
        return None
    settings = services_of(request).settings
    session = mint_token(
        settings.jwt_secret.get_secret_value(),
        settings.jwt_audience,
        role=role,
        sub=principal.sub,
        ttl_seconds=SESSION_SECONDS,
    )
    return Cookie(
        key=cookie_name(role),
        value=session,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings.is_production,
    )


def end_session(response: Response[Any], role: Role) -> None:
    response.delete_cookie(cookie_name(role), path="/")


def csrf_token(request: Request[Any, Any, Any], role: Role) -> str:
    """The CSRF token of the current session (empty without one)."""
    session = request.cookies.get(cookie_name(role), "")
    secret = services_of(request).settings.jwt_secret.get_secret_value().encode()
    return hmac.new(secret, b"csrf:" + session.encode(), hashlib.sha256).hexdigest()[:40] if session else ""


async def check_csrf(request: Request[Any, Any, Any], role: Role) -> None:
    """Raises:
    Forbidden (CSRF_FAILED): the form's token does not match the session's.
    """
    form = await request.form()
    expected = csrf_token(request, role)
    if not expected or not hmac.compare_digest(str(form.get("csrf") or ""), expected):
        raise Forbidden("The form expired or came from another site; reload the page.", code="CSRF_FAILED")

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

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.handlers import HTTPRouteHandler
from litestar.response import Redirect

from adapter.auth import Principal, Role
from adapter.guards import public_guard, services_of
from adapter.pages.render import page, page_locale
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


def sign_in_routes(role: Role, home: str) -> list[HTTPRouteHandler]:
    """`{home}/login` (the form, and the token exchanged for the cookie) and `{home}/logout`.

    The form is `{space}_login.html`; a refused token shows `page.{space}.login_failed`.
    """
    space = home.strip("/")

    @get(f"{home}/login", guards=[public_guard], include_in_schema=False, name=f"{space}-login-form")
    async def login_page(request: Request[Any, Any, Any]) -> Response[Any]:
        if await session_principal(request, role) is not None:
            return Redirect(home, status_code=303)
        return page(f"{space}_login.html", page_locale(request), error=None)

    @post(f"{home}/login", guards=[public_guard], include_in_schema=False, status_code=303, name=f"{space}-login")
    async def login(request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        cookie = await start_session(request, str(form.get("token") or ""), role)
        if cookie is None:
            return page(f"{space}_login.html", page_locale(request), status=401, error=f"page.{space}.login_failed")
        return Redirect(home, status_code=303, cookies=[cookie])

    @post(f"{home}/logout", include_in_schema=False, status_code=303, name=f"{space}-logout")
    async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
        await check_csrf(request, role)
        response = Redirect(f"{home}/login", status_code=303)
        end_session(response, role)
        return response

    return [login_page, login, logout]

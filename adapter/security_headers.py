"""Headers every response carries, whatever produced it (a handler, an error, a 404 from routing)."""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

#: API errors and JSON bodies echo what callers sent: a browser must never sniff them into HTML.
NOSNIFF = ("x-content-type-options", "nosniff")


def security_headers_middleware(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: `X-Content-Type-Options: nosniff` on every HTTP response."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                if NOSNIFF[0] not in headers:
                    headers[NOSNIFF[0]] = NOSNIFF[1]
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware

"""A minimal raw-ASGI request/response layer and path router for the simulator.

The simulator must not depend on a web framework (import-linter keeps Litestar in `adapter/`),
and it only needs exact paths with `{param}` segments, so a few dozen lines do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


@dataclass
class Request:
    """What a handler needs from an HTTP request; header names are lower-case."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes
    raw_path: str | None = None

    @property
    def url(self) -> str:
        """Raw path plus query string, as Express's `request.url` (echoed in Cal.com error bodies)."""
        path = self.raw_path or self.path
        return f"{path}?{self.query_string}" if self.query_string else path

    @property
    def query(self) -> dict[str, str]:
        """Query parameters; a repeated parameter keeps its last value."""
        return dict(parse_qsl(self.query_string, keep_blank_values=True))


@dataclass
class Response:
    """A complete HTTP response."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """A JSON response serialised compactly, as Express `res.json` does."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(status, body, [("content-type", JSON_CONTENT_TYPE), *headers])


async def read_request(scope: Scope, receive: Receive) -> Request:
    """Collect an ASGI HTTP request, body included."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}
    return Request(
        method=str(scope["method"]).upper(),
        path=str(scope["path"]),
        query_string=bytes(scope.get("query_string", b"")).decode("latin-1"),
        headers=headers,
        body=b"".join(chunks),
        raw_path=bytes(scope["raw_path"]).decode("latin-1") if scope.get("raw_path") else None,
    )


async def send_response(send: Send, response: Response) -> None:
    """Write `response` to the ASGI `send` channel."""
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


@dataclass(frozen=True)
class Route:
    """One method + path template (`/v2/bookings/{bookingUid}`) and what serves it."""

    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Any
    resource: str | None = None
    auth: str = "none"


class Router:
    """Match a method and path to a route, extracting `{param}` segments."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, template: str, handler: Any, *, resource: str | None = None, auth: str = "none") -> None:
        """Register `handler`; `resource` names the versioned controller, `auth` is none/optional/required."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template.rstrip("/"))
        self._routes.append(Route(method, template, re.compile(f"^{regex}/?$"), handler, resource, auth))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for `method` and `path` with its path parameters, or None."""
        for route in self._routes:
            found = route.pattern.match(path)
            if found and route.method == method:
                return route, found.groupdict()
        return None

    def templates(self) -> list[tuple[str, str]]:
        """Every registered (method, template), for documentation and tests."""
        return [(route.method, route.template) for route in self._routes]

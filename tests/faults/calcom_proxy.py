"""A fault-injecting HTTP proxy in front of the Cal.com simulator, run as its own process.

    python -m tests.faults.calcom_proxy --port 8011 --upstream-port 8010

Every request to `/v2/...` is counted, then either forwarded (one connection per request) or
answered with the fault set by `POST /__fault/<mode>`:

- `pass`: forward to the simulator;
- `slow`: forward after 200 ms (a slow Cal.com: requests are in flight longer);
- `500`: Cal.com's error envelope for an unhandled error;
- `429`: Cal.com's throttler answer, with its `X-RateLimit-*-Default` headers (no `Retry-After`);
- `hang`: read the request and never answer (the client times out);
- `reset`: read the request and reset the connection (TCP RST, no answer).

`GET /__fault/stats` answers `{"attempts": {"<mode> <METHOD> <path>": n}}`; `POST /__fault/reset-stats`
clears them. Only enough HTTP/1.1 for httpx's requests: a head, and a Content-Length body.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import struct
from collections import Counter

MODES = ("pass", "slow", "500", "429", "hang", "reset")
SLOW_S = 0.2


class Proxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode = "pass"
        self.attempts: Counter[str] = Counter()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if target.startswith("/__fault/"):
                    self._control(method, target, writer)
                    await writer.drain()
                    continue
                path = target.split("?", 1)[0]
                mode = self.mode
                self.attempts[f"{mode} {method} {path}"] += 1
                if mode in ("pass", "slow"):
                    if mode == "slow":
                        await asyncio.sleep(SLOW_S)
                    await self._forward(head, body, writer)
                    return  # one request per connection when forwarding (the answer says close)
                if mode == "hang":
                    await reader.read()  # until the client gives up and closes
                    return
                if mode == "reset":
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                writer.write(_fault_response(mode, target))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def _control(self, method: str, target: str, writer: asyncio.StreamWriter) -> None:
        action = target[len("/__fault/") :]
        if method == "POST" and action in MODES:
            self.mode = action
            payload: dict[str, object] = {"mode": self.mode}
        elif method == "POST" and action == "reset-stats":
            self.attempts.clear()
            payload = {"attempts": {}}
        else:
            payload = {"mode": self.mode, "attempts": dict(self.attempts)}
        writer.write(_response(200, "OK", json.dumps(payload).encode(), {}))

    async def _forward(self, head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        lines = [line for line in head.decode("latin-1").split("\r\n") if line]
        kept = [line for line in lines[1:] if not line.lower().startswith("connection:")]
        request = "\r\n".join([lines[0], *kept, "Connection: close", "", ""]).encode("latin-1") + body
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            up_writer.write(request)
            await up_writer.drain()
            writer.write(await up_reader.read())
            await writer.drain()
        finally:
            up_writer.close()


def _response(status: int, reason: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _fault_response(mode: str, target: str) -> bytes:
    if mode == "429":
        error = {
            "code": "ThrottlerException",
            "message": "CustomThrottlerGuard - Too many requests. Please try again later.",
        }
        body = json.dumps({"status": "error", "timestamp": "2026-01-01T00:00:00.000Z", "path": target, "error": error})
        limits = {
            "X-RateLimit-Limit-Default": "120",
            "X-RateLimit-Remaining-Default": "0",
            "X-RateLimit-Reset-Default": "1",
        }
        return _response(429, "Too Many Requests", body.encode(), limits)
    error = {"code": "InternalServerErrorException", "message": "Internal server error"}
    body = json.dumps({"status": "error", "timestamp": "2026-01-01T00:00:00.000Z", "path": target, "error": error})
    return _response(500, "Internal Server Error", body.encode(), {})


async def serve(port: int, upstream_port: int) -> None:
    proxy = Proxy(upstream_port)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream-port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.upstream_port))


if __name__ == "__main__":
    main()

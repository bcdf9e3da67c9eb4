"""A Thotis event receiver run as its own process: it records every delivery it accepts.

    python -m tests.faults.receiver --port 8200 --log /tmp/received.jsonl [--delay-ms 20]

Each accepted POST appends one JSON line (`id` = the `webhook-id` header, `timestamp`,
`signature`, `body` in base64) to the log, flushed before the 200 is sent, so the log holds exactly
what the sender was told was received, across restarts of this process. A body cut short (the
sender died mid-request) is not recorded and gets no answer.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
from pathlib import Path
from typing import Any


def make_app(log: Path, delay_s: float) -> Any:
    out = log.open("a", encoding="utf-8")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if delay_s:
            await asyncio.sleep(delay_s)
        record = {
            "id": headers.get("webhook-id"),
            "timestamp": headers.get("webhook-timestamp"),
            "signature": headers.get("webhook-signature"),
            "body": base64.b64encode(b"".join(chunks)).decode(),
        }
        out.write(json.dumps(record) + "\n")
        out.flush()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def read_log(log: Path) -> list[dict[str, str]]:
    """Every delivery the receiver accepted, in order (a torn last line is ignored)."""
    if not log.exists():
        return []
    records = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    app = make_app(args.log, args.delay_ms / 1000)
    uvicorn.run(app, host="127.0.0.1", port=args.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()

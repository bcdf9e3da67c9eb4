"""A webhook receiver for the benchmarks: answers 200 to anything, at once, and counts what came.

GET /stats answers `{"received": n, "distinct": d}`: deliveries, and distinct `webhook-id`s
(what the at-least-once guarantee is about).

python -m benchmarks.receiver_app --port 8200
"""

from __future__ import annotations

import argparse
import json
from typing import Any

_ids: set[bytes] = set()
_received = 0


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _received
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    if scope["method"] == "GET" and scope["path"] == "/stats":
        body = json.dumps({"received": _received, "distinct": len(_ids)}).encode()
    else:
        body = b"ok"
        webhook_id = dict(scope["headers"]).get(b"webhook-id")
        if webhook_id is not None:
            _received += 1
            _ids.add(webhook_id)
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # One process: the counts live in memory.
    uvicorn.run(app, host="127.0.0.1", port=args.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()

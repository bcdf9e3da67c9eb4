"""The ceiling of this stack: a bare Litestar endpoint returning one Redis value as is.

SPEC.md §8 compares cached reads with it, so it runs on the same server (uvicorn) with the same
options and worker count as `thotis serve`; everything the sidecar adds (auth, rate limit,
envelope, DI) shows up as the gap between the two.

    python -m benchmarks.ceiling_app --port 8100 --workers 2
    (env: BENCH_CEILING_REDIS_URL, BENCH_CEILING_KEY)
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Response, get
from litestar.datastructures import State
from redis.asyncio import Redis

REDIS_URL_ENV = "BENCH_CEILING_REDIS_URL"
KEY_ENV = "BENCH_CEILING_KEY"


@get("/ceiling")
async def ceiling(state: State) -> Response[bytes]:
    value = await state.redis.get(state.key)
    if value is None:
        return Response(b'{"status":"error"}', status_code=404, media_type="application/json")
    return Response(value, media_type="application/json")


def create_app() -> Litestar:
    """App factory for uvicorn; one Redis client per worker, sized like the sidecar's."""
    redis_url, key = os.environ[REDIS_URL_ENV], os.environ[KEY_ENV]

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        client = Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5, max_connections=200)
        app.state.redis, app.state.key = client, key
        try:
            yield
        finally:
            await client.aclose()

    return Litestar(route_handlers=[ceiling], lifespan=[lifespan], debug=False)


def main() -> None:
    """Serve with the same uvicorn options as `thotis serve` (adapter/cli.py)."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "benchmarks.ceiling_app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=False,
        access_log=False,
        log_level="info",
    )


if __name__ == "__main__":
    main()

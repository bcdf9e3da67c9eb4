"""Browser tests: the app served over a real socket in the tests' event loop, driven by Debian's
Chromium through Playwright (`executable_path`; no downloaded browser)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from litestar import Litestar
from playwright.async_api import Browser, async_playwright

from core.local_servers import free_port
from tests.adapter.conftest import simulator  # noqa: F401  (the simulator fixture, shared)
from tests.jobs.conftest import eventually

ARTIFACTS = Path(__file__).parents[1] / "artifacts"
#: Flags this machine needs (no sandbox as root, no network chatter from the browser).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    found = os.environ.get("THOTIS_TEST_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail("Chromium is not installed: run `apt-get install -y chromium` (make test does it when it can)")
    return found


@pytest.fixture(scope="session")
async def base_url(app: Litestar) -> AsyncIterator[str]:
    """The test app on 127.0.0.1, served by uvicorn in the tests' own event loop."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, 10)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Screenshots for people to look at (not committed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS

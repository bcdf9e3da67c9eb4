"""The heartbeat file `thotis health` reads: fresh is healthy; missing, unreadable or old is not."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from jobs.heartbeat import Heartbeat, check_heartbeat, heartbeat_path


class TestHeartbeat:
    async def test_beats_while_alive_and_removes_its_file_when_stopped(self, tmp_path: Path) -> None:
        finish = asyncio.Event()

        async def alive() -> bool:
            return True

        running = asyncio.create_task(Heartbeat(tmp_path, "worker", 0.05, alive).run(finish))
        for _ in range(100):
            if heartbeat_path(tmp_path, "worker").exists():
                break
            await asyncio.sleep(0.01)
        assert check_heartbeat(tmp_path, "worker", 0.05) is None
        finish.set()
        await asyncio.wait_for(running, 2)
        assert "not running" in str(check_heartbeat(tmp_path, "worker", 0.05))

    async def test_writes_nothing_while_redis_does_not_answer(self, tmp_path: Path) -> None:
        finish = asyncio.Event()

        async def unreachable() -> bool:
            return False

        running = asyncio.create_task(Heartbeat(tmp_path, "scheduler", 0.02, unreachable).run(finish))
        await asyncio.sleep(0.1)
        assert not heartbeat_path(tmp_path, "scheduler").exists()
        finish.set()
        await asyncio.wait_for(running, 2)

    def test_an_old_or_unreadable_heartbeat_is_unhealthy(self, tmp_path: Path) -> None:
        path = heartbeat_path(tmp_path, "worker")
        path.write_text(json.dumps({"role": "worker", "pid": 1, "at": time.time() - 31}))
        assert "31 s ago (limit 30 s)" in str(check_heartbeat(tmp_path, "worker", 10))
        assert check_heartbeat(tmp_path, "worker", 10, now=time.time() - 5) is None
        path.write_text("{")
        assert "unreadable" in str(check_heartbeat(tmp_path, "worker", 10))

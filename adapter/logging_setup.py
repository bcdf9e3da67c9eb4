"""Logs on stderr, one record a line: JSON objects in production, readable text elsewhere.

Every record carries its time (ISO-8601 UTC), level, logger and message; records written during a
request add its request id, during a job the job's name; access lines add method, path, status
and duration. E-mail addresses and `secret=…`-like pairs are masked in messages and tracebacks:
prospective students' personal data never reaches the logs, whatever a message interpolates.

Lines are written in batches, as nginx's `access_log … buffer= flush=` does: a write per request
was a system call under the event loop on every response. A warning or worse, a full buffer,
`THOTIS_LOG_FLUSH_SECONDS` (0.2 s) and exit each write what is pending, in order.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import weakref
from datetime import UTC, datetime
from typing import Any, TextIO

import msgspec

from adapter.monitoring import scrub_text
from adapter.request_context import RequestIdFilter
from core.settings import LogFormat
from jobs.runlog import current_job

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s request_id=%(request_id)s %(message)s"

#: Structured fields a record may carry (`log.info(…, extra={"status": 200})`), copied into JSON.
EXTRA_FIELDS = ("method", "path", "status", "duration_ms", "job", "error_code", "role")
#: Pending lines are written at once past this size or at WARNING (else every `flush_seconds`).
FLUSH_BYTES = 64 * 1024
_JSON = msgspec.json.Encoder(enc_hook=str)


class ContextFilter(RequestIdFilter):
    """Adds `request_id` (a dash outside requests) and `job` (when a job is running) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        super().filter(record)
        if getattr(record, "job", None) is None and (job := current_job()) is not None:
            record.job = job
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, and the context fields present."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub_text(record.getMessage()),
        }
        request_id = getattr(record, "request_id", "-")
        if request_id != "-":
            entry["request_id"] = request_id
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = scrub_text(self.formatException(record.exc_info))
        elif record.stack_info:
            entry["stack"] = scrub_text(self.formatStack(record.stack_info))
        return _JSON.encode(entry).decode()


class TextFormatter(logging.Formatter):
    """The readable line of TEXT_FORMAT, masked like the JSON one."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        # Only what the record carries is masked: the line's own time and request id need no pass.
        record.message = scrub_text(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        if record.exc_info:
            line += "\n" + scrub_text(self.formatException(record.exc_info))
        elif record.stack_info:
            line += "\n" + scrub_text(self.formatStack(record.stack_info))
        return line


class BatchingStreamHandler(logging.StreamHandler[TextIO]):
    """A stream handler that formats each record at once and writes the lines in batches."""

    def __init__(self, stream: TextIO, flush_seconds: float = 0.2) -> None:
        super().__init__(stream)
        self.flush_seconds = flush_seconds
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._wake = threading.Event()
        self._flusher_pid = 0  # the process whose flusher thread runs (a fork has none)
        self.flusher: threading.Thread | None = None
        _batching.add(self)

    def emit(self, record: logging.LogRecord) -> None:
        # Called with the handler's lock held (`Handler.handle`).
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._pending.append(line)
        self._pending_bytes += len(line)
        if record.levelno >= logging.WARNING or self._pending_bytes >= FLUSH_BYTES or self.flush_seconds <= 0:
            self.flush()
        elif self._flusher_pid != os.getpid():
            self._flusher_pid = os.getpid()
            self.flusher = threading.Thread(target=self._flush_periodically, name="log-flush", daemon=True)
            self.flusher.start()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # created in Handler.__init__
            if not self._pending:
                return
            text = "".join(self._pending)
            self._pending.clear()
            self._pending_bytes = 0
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):
                pass  # stderr closed or gone: nowhere left to say so

    def close(self) -> None:
        self.flush()
        self._wake.set()
        super().close()

    def _flush_periodically(self) -> None:
        pid = os.getpid()
        while not self._wake.wait(self.flush_seconds) and self._flusher_pid == pid:
            self.flush()


_batching: weakref.WeakSet[BatchingStreamHandler] = weakref.WeakSet()


def _flush_before_fork() -> None:
    """A forked child inherits the pending lines: write them first, or both processes would."""
    for handler in list(_batching):
        handler.flush()


os.register_at_fork(before=_flush_before_fork)


def configure_logging(level: str, log_format: LogFormat = LogFormat.TEXT, flush_seconds: float = 0.2) -> None:
    """Install one stderr handler on the root logger (idempotent); uvicorn's loggers propagate to it.
    Lines are written at least every `flush_seconds` (0: each at once)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_thotis", False):
            root.removeHandler(handler)
            handler.close()
    handler = BatchingStreamHandler(sys.stderr, flush_seconds)
    handler.setFormatter(JsonFormatter() if log_format is LogFormat.JSON else TextFormatter())
    handler.addFilter(ContextFilter())
    handler._thotis = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # No format prints a record's thread or process: the logging HOWTO's "Optimization" switches
    # spare looking them up for every record (a sixth of what making a record costs).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # uvicorn's own handlers (when something installed them) would print each line twice, differently.
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # uvicorn's access line stays off (it checks `hasHandlers()`): ours (thotis.access) replaces it,
    # and uvicorn's carries the client address and the query string, and a rating link's token.
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False
    # One INFO line per outgoing HTTP call (Cal.com, webhooks) drowns the service's own logs.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    # taskiq logs every scheduled send and every task start at INFO: several lines a second. The
    # jobs log their own outcome (thotis.jobs) when they did something.
    for noisy in ("taskiq", "mail.log"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))

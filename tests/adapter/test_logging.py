"""The log formats: one JSON object per record with its context, readable text, both masking
e-mail addresses and secrets whatever a message interpolates."""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from datetime import datetime, timedelta

from adapter.logging_setup import (
    FLUSH_BYTES,
    BatchingStreamHandler,
    ContextFilter,
    JsonFormatter,
    TextFormatter,
    configure_logging,
)
from adapter.request_context import request_id_var
from core.settings import LogFormat


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("thotis.test", logging.WARNING, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    ContextFilter().filter(made)
    return made


class TestJsonFormatter:
    def test_one_json_object_with_utc_time_level_logger_message_and_context(self) -> None:
        token = request_id_var.set("req-12345678")
        try:
            line = JsonFormatter().format(record("GET %s %d", "/x", 200, status=200, job="send_emails"))
        finally:
            request_id_var.reset(token)
        entry = json.loads(line)
        assert datetime.fromisoformat(entry["timestamp"]).utcoffset() == timedelta(0)
        assert entry["level"] == "WARNING" and entry["logger"] == "thotis.test"
        assert entry["message"] == "GET /x 200"
        assert (entry["request_id"], entry["status"], entry["job"]) == ("req-12345678", 200, "send_emails")
        assert "\n" not in line

    def test_masks_emails_and_secrets_in_messages_and_tracebacks(self) -> None:
        try:
            raise ValueError("cannot mail lea@example.org")
        except ValueError:
            failed = record("sending to %s failed, token=%s", "lea@example.org", "abc123")
            failed.exc_info = sys.exc_info()
        entry = json.loads(JsonFormatter().format(failed))
        assert "lea@example.org" not in json.dumps(entry) and "abc123" not in entry["message"]
        assert "[email]" in entry["message"] and "ValueError" in entry["exception"]

    def test_outside_requests_there_is_no_request_id(self) -> None:
        assert "request_id" not in json.loads(JsonFormatter().format(record("tick")))


class TestTextFormatter:
    def test_one_readable_line_with_the_request_id_and_masked_emails(self) -> None:
        line = TextFormatter().format(record("booked by %s", "lea@example.org"))
        assert "WARNING" in line and "thotis.test request_id=- booked by [email]" in line


class TestConfigureLogging:
    def test_uvicorn_keeps_its_own_access_line_off(self) -> None:
        """uvicorn logs an access line when its logger has handlers; that line carries the query
        string and a rating link's token, and ours (thotis.access) replaces it."""
        root = logging.getLogger()
        before = list(root.handlers), root.level
        try:
            configure_logging("INFO", LogFormat.TEXT)
            assert not logging.getLogger("uvicorn.access").hasHandlers()
            assert logging.getLogger("uvicorn.error").hasHandlers()
            assert logging.getLogger("thotis.access").hasHandlers()
        finally:
            for handler in list(root.handlers):
                if handler not in before[0]:
                    root.removeHandler(handler)
            root.setLevel(before[1])


class TestBatchingStreamHandler:
    """Lines are written in batches, in order, and none is lost: a warning writes what is pending at
    once, the flusher thread writes the rest within a fraction of a second, and closing writes all."""

    @staticmethod
    def handler(stream: io.StringIO) -> BatchingStreamHandler:
        made = BatchingStreamHandler(stream)
        made.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        return made

    @staticmethod
    def info(message: str) -> logging.LogRecord:
        return logging.LogRecord("thotis.test", logging.INFO, __file__, 1, message, (), None)

    def test_a_warning_writes_the_pending_lines_before_it_in_order(self) -> None:
        stream = io.StringIO()
        handler = self.handler(stream)
        try:
            for n in range(3):
                handler.handle(self.info(f"line {n}"))
            handler.handle(record("trouble"))
            assert stream.getvalue() == "INFO line 0\nINFO line 1\nINFO line 2\nWARNING trouble\n"
        finally:
            handler.close()

    def test_pending_lines_are_written_without_further_logging(self) -> None:
        stream = io.StringIO()
        handler = self.handler(stream)
        try:
            handler.handle(self.info("quiet"))
            deadline = time.monotonic() + 5
            while "quiet" not in stream.getvalue() and time.monotonic() < deadline:
                time.sleep(handler.flush_seconds / 4)
            assert stream.getvalue() == "INFO quiet\n"
        finally:
            handler.close()

    def test_with_no_interval_every_line_is_written_at_once(self) -> None:
        stream = io.StringIO()
        handler = BatchingStreamHandler(stream, flush_seconds=0)
        try:
            handler.handle(self.info("now"))
            assert stream.getvalue().endswith("now\n") and handler.flusher is None
        finally:
            handler.close()

    def test_a_full_buffer_is_written_at_once(self) -> None:
        stream = io.StringIO()
        handler = BatchingStreamHandler(stream, flush_seconds=60)  # the timer cannot be what writes
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        try:
            line = "x" * 1000
            for _ in range(FLUSH_BYTES // 1000 + 1):
                handler.handle(self.info(line))
            assert stream.getvalue().count(line) > FLUSH_BYTES // 1100
        finally:
            handler.close()

    def test_closing_writes_every_pending_line_and_stops_the_flusher(self) -> None:
        stream = io.StringIO()
        handler = self.handler(stream)
        lines = [f"line {n}" for n in range(500)]
        for line in lines:
            handler.handle(self.info(line))
        flusher = handler.flusher
        assert flusher is not None and flusher.is_alive()
        handler.close()
        assert stream.getvalue().splitlines() == [f"INFO {line}" for line in lines]
        flusher.join(timeout=5)
        assert not flusher.is_alive()

    def test_reconfiguring_closes_the_previous_handler(self) -> None:
        root = logging.getLogger()
        before = list(root.handlers), root.level
        try:
            configure_logging("INFO", LogFormat.TEXT)
            first = next(h for h in root.handlers if isinstance(h, BatchingStreamHandler))
            configure_logging("INFO", LogFormat.TEXT)
            assert first not in root.handlers
            assert sum(isinstance(h, BatchingStreamHandler) for h in root.handlers) == 1
        finally:
            for handler in list(root.handlers):
                if handler not in before[0]:
                    root.removeHandler(handler)
                    handler.close()
            root.setLevel(before[1])

"""The log formats: one JSON object per record with its context, readable text, both masking
e-mail addresses and secrets whatever a message interpolates."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timedelta

from adapter.logging_setup import ContextFilter, JsonFormatter, TextFormatter, configure_logging
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

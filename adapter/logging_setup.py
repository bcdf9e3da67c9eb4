"""Readable, structured-enough logs: time, level, logger, request id, message."""

from __future__ import annotations

import logging
import sys

from adapter.request_context import RequestIdFilter

FORMAT = "%(asctime)s %(levelname)-7s %(name)s request_id=%(request_id)s %(message)s"


def configure_logging(level: str) -> None:
    """Install one stderr handler with request ids on the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_thotis", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RequestIdFilter())
    handler._thotis = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # One INFO line per outgoing HTTP call (Cal.com, webhooks) drowns the service's own logs.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    # taskiq logs every scheduled send and every task start at INFO: several lines a second. The
    # jobs log their own outcome (thotis.jobs) when they did something.
    for noisy in ("taskiq", "mail.log"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))

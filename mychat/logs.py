"""Log configuration for `mychat serve`: text, or one JSON object a line (MYCHAT_LOG_FORMAT=json).

Every line carries the request id of the request it belongs to (the id nginx sets in
X-Request-ID, which the gateway forwards to the services), so one request can be followed
through gateway and services. Lines hold ids, routes, statuses and exception types; the code
never logs bodies, headers, tokens, passwords or message text (tests/topology/test_logs.py).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

from mychat.settings import Settings

# The id of the request being handled in this task (set by AccessLogMiddleware).
REQUEST_ID: ContextVar[str] = ContextVar("mychat_request_id", default="-")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": REQUEST_ID.get(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure_logging(settings: Settings) -> dict[str, Any] | None:
    """Configure the root logger; returns uvicorn's `log_config` (None: uvicorn's own loggers
    propagate to the root and get the same format)."""
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # The access log already has a line per request, service hops included.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return None

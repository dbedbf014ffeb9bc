"""Logging set-up. Log lines carry ids and references, never message text, images or BSNs.

Two formats (`[logging] format`): plain text lines, or one JSON object per line for a log
collector. Both come from the same handler, so what is quietened here is quiet in both.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_RECORD = logging.LogRecord("", logging.INFO, "", 0, "", None, None)
_STANDARD = frozenset(_RECORD.__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the record's
    `extra` fields, and the traceback as `exception` when there is one. Newlines in a message
    are escaped, so one record is always one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(level: str, fmt: LogFormat = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library chatter at INFO can include protocol lines (addresses, subjects): keep it quiet.
    # uvicorn: its start/stop lines repeat ours; errors still show.
    for noisy in (
        "imapclient",
        "aiosmtpd",
        "mail.log",
        "aiosqlite",
        "sqlalchemy",
        "alembic",
        "uvicorn",
        # httpx logs every request URL at INFO, and a Bot API URL holds the token.
        "httpx",
        "httpcore",
        "telegram",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)

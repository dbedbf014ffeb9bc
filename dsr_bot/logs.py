"""Logging set-up. Log lines carry ids and references, never message text, images or BSNs."""

from __future__ import annotations

import logging
import sys


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
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

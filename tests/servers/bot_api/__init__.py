"""A local stand-in for the Telegram Bot API, so the Telegram channel can be tested offline.

The real API is out of reach from tests. This package serves the part of it that a
python-telegram-bot client uses, with the real URL shapes (``POST {base}/bot{token}/{method}``,
``GET {base}/file/bot{token}/{file_path}``), parameter encodings (JSON, urlencoded, multipart
with form values JSON-encoded), result shapes and error answers, and lets tests play the user::

    with BotApiStub() as stub:
        bot = telegram.Bot(stub.token, base_url=stub.api_url, base_file_url=stub.file_url)
        stub.send_text(42, 42, "/start")      # the user writes to the bot
        ...                                    # the bot polls getUpdates and answers
        assert stub.sent(42)[0]["text"] == ...

The server runs as its own process (``python -m tests.servers.bot_api --port N --token T``) and
keeps all state in memory, so it outlives a bot that restarts. The test controls go to
``/_stub/...``, a path no bot token reaches. Plain Python (no pytest import), like dovecot.py.

Modules: ``api`` (shared names, errors), ``markup`` (entities, parse modes, keyboards),
``files`` (photo sizes, uploads), ``state``/``methods``/``controls`` (what the server knows,
the Bot API methods, the test controls), ``server`` (HTTP app, ``main``), ``process`` (running
the subprocess) and ``client`` (``BotApiStub``).
"""

from __future__ import annotations

from tests.servers.bot_api.api import (
    BOT_FIRST_NAME,
    BOT_USERNAME,
    DEFAULT_TOKEN,
    HOST,
    MAX_CAPTION,
    MAX_DOWNLOAD,
    MAX_POLL_TIMEOUT,
    MAX_TEXT,
    ApiError,
    JSONDict,
    StubError,
    bot_user,
)
from tests.servers.bot_api.client import BotApiStub
from tests.servers.bot_api.markup import buttons, render, user_entities
from tests.servers.bot_api.process import ROOT, free_port
from tests.servers.bot_api.server import build_app, main

__all__ = [
    "BOT_FIRST_NAME",
    "BOT_USERNAME",
    "DEFAULT_TOKEN",
    "HOST",
    "MAX_CAPTION",
    "MAX_DOWNLOAD",
    "MAX_POLL_TIMEOUT",
    "MAX_TEXT",
    "ROOT",
    "ApiError",
    "BotApiStub",
    "JSONDict",
    "StubError",
    "bot_user",
    "build_app",
    "buttons",
    "free_port",
    "main",
    "render",
    "user_entities",
]

"""Shared by server and client: the JSON type, the bot's identity, API limits and errors."""

from __future__ import annotations

from typing import Any

JSONDict = dict[str, Any]

HOST = "127.0.0.1"
# Shaped like a real token ("<bot id>:<35 characters>"); the bot's id is the part before ":".
DEFAULT_TOKEN = "7000000001:AAH-dsr-bot-test-token-not-a-real-1"
BOT_USERNAME = "dsr_test_bot"
BOT_FIRST_NAME = "DSR Test Bot"

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_DOWNLOAD = 20 * 1024 * 1024
MAX_POLL_TIMEOUT = 50

CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: CONFLICT,
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status, description, optional retry_after."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


class ControlError(Exception):
    """A test asked the stub for something a real user could not do."""


class StubError(AssertionError):
    """The stub refused a control request, or a wait ran out: the test's expectation failed."""


def bot_user(token: str) -> JSONDict:
    prefix = token.split(":", 1)[0]
    return {
        "id": int(prefix) if prefix.isdigit() else 7000000001,
        "is_bot": True,
        "first_name": BOT_FIRST_NAME,
        "username": BOT_USERNAME,
    }

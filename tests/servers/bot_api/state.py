"""The stub's memory: chats, messages, files, updates, records, faults, change notices."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import mimetypes
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.servers.bot_api.api import (
    DEFAULT_DESCRIPTIONS,
    ApiError,
    ControlError,
    JSONDict,
    bad_request,
    bot_user,
)
from tests.servers.bot_api.files import StoredFile, Upload, photo_variants

_FIRST_UPDATE_ID = 700_000_001
_POLL_SLICE = 0.25  # how often a waiting getUpdates checks that its client is still there
# Update kinds the API withholds unless allowed_updates names them.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class Fault:
    method: str  # lower case, or "*"
    status: int
    remaining: int
    retry_after: int | None
    description: str | None


def recordable(params: JSONDict) -> JSONDict:
    """Request parameters as tests see them: uploads as name, type and size."""
    return {
        key: (
            {"file_name": v.file_name, "mime_type": v.mime_type, "file_size": len(v.data)}
            if isinstance(v, Upload)
            else v
        )
        for key, v in params.items()
    }


def without_reply(message: JSONDict) -> JSONDict:
    """A message as it appears in reply_to_message (the API does not nest further)."""
    return {k: copy.deepcopy(v) for k, v in message.items() if k != "reply_to_message"}


class Store:
    """Everything the stub knows; one instance per process, in the uvicorn event loop."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.bot = bot_user(token)
        # Survive reset(): update_ids only ever increase, and ids never repeat.
        self._update_ids = itertools.count(_FIRST_UPDATE_ID)
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._poll_generation = 0
        self.polling = 0
        self.reset()

    def reset(self) -> None:
        self.updates: list[JSONDict] = []
        self.allowed_updates: frozenset[str] | None = None  # None: the API's default
        self.chats: dict[int, JSONDict] = {}
        self.users: dict[int, JSONDict] = {}
        self.last_message_id: dict[int, int] = {}
        self.messages: dict[tuple[Any, Any], JSONDict] = {}
        self.files: dict[str, StoredFile] = {}
        self.paths: dict[str, str] = {}
        self.photo_sets: dict[str, list[JSONDict]] = {}
        self.documents: dict[str, JSONDict] = {}
        self.queries: dict[str, JSONDict] = {}
        self.commands: dict[str, list[JSONDict]] = {}
        self.faults: list[Fault] = []
        self.log: dict[str, list[JSONDict]] = {
            "sent": [],
            "edits": [],
            "deleted": [],
            "callback_answers": [],
            "requests": [],
        }
        self.notify()

    # -- change notification ----------------------------------------------------------------

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        within: float,
        gone: Callable[[], Awaitable[bool]] | None = None,
    ) -> bool:
        """Wait for predicate (re-checked on every change); False on timeout or client gone."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0 or (gone is not None and await gone()):
                return False
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, _POLL_SLICE))
        return True

    # -- records ----------------------------------------------------------------------------

    def record(self, method: str, status: int, params: JSONDict, error: str | None) -> None:
        entry = {"method": method, "status": status, "params": recordable(params), "error": error}
        self.log["requests"].append(entry)
        self.notify()

    def select(self, what: str, chat_id: Any = None, method: Any = None) -> list[JSONDict]:
        if what == "pending":
            items = self.updates
        elif what in self.log:
            items = self.log[what]
        else:
            raise ControlError(f"nothing called {what!r} is recorded")
        if chat_id is not None:
            items = [item for item in items if item.get("chat_id") == chat_id]
        if method is not None:
            items = [item for item in items if str(item.get("method")).lower() == method.lower()]
        return list(items)

    def take_fault(self, method: str) -> ApiError | None:
        for fault in self.faults:
            if fault.method in ("*", method.lower()):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                retry_after = fault.retry_after
                if fault.status == 429 and retry_after is None:
                    retry_after = 1
                description = fault.description or (
                    f"Too Many Requests: retry after {retry_after}"
                    if fault.status == 429
                    else DEFAULT_DESCRIPTIONS.get(fault.status, "Error")
                )
                return ApiError(fault.status, description, retry_after)
        return None

    # -- chats, users, messages, files ------------------------------------------------------

    def chat_for_bot(self, chat_id: Any) -> JSONDict:
        """The chat a bot method names; an unknown numeric id gets a plausible chat."""
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        if not isinstance(chat_id, int) or chat_id == 0:
            raise bad_request("chat not found")  # no @username lookup here
        chat = self.chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                chat = {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
            else:
                kind = "supergroup" if str(chat_id).startswith("-100") else "group"
                chat = {"id": chat_id, "type": kind, "title": f"Group {chat_id}"}
            self.chats[chat_id] = chat
        return chat

    def new_message(self, chat: JSONDict, sender: JSONDict, content: JSONDict) -> JSONDict:
        chat_id = chat["id"]
        message_id = self.last_message_id.get(chat_id, 0) + 1
        self.last_message_id[chat_id] = message_id
        message = {
            "message_id": message_id,
            "from": dict(sender),
            "chat": dict(chat),
            "date": int(time.time()),
            **content,
        }
        self.messages[(chat_id, message_id)] = message
        return message

    def store_file(self, data: bytes, kind: str, suffix: str) -> StoredFile:
        n = next(self._ids)
        prefix, folder = (
            ("AgACAgIAAxkBAAI", "photos") if kind == "photo" else ("BQACAgIAAxkBAAI", "documents")
        )
        stored = StoredFile(
            file_id=f"{prefix}{n:05d}{secrets.token_urlsafe(24)}",
            file_unique_id=f"AQAD{n:04d}{secrets.token_urlsafe(6)}",
            file_path=f"{folder}/file_{n}{suffix}",
            data=data,
            kind=kind,
        )
        self.files[stored.file_id] = stored
        self.paths[stored.file_path] = stored.file_id
        return stored

    def store_photo(self, data: bytes) -> list[JSONDict]:
        sizes: list[JSONDict] = []
        for blob, width, height in photo_variants(data):
            stored = self.store_file(blob, "photo", ".jpg")
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": len(blob),
                    "width": width,
                    "height": height,
                }
            )
        for size in sizes:
            self.photo_sets[size["file_id"]] = sizes
        return sizes

    def store_document(self, upload: Upload) -> JSONDict:
        mime_type = upload.mime_type
        if mime_type == "application/octet-stream":
            mime_type = mimetypes.guess_type(upload.file_name)[0] or mime_type
        suffix = Path(upload.file_name).suffix or mimetypes.guess_extension(mime_type) or ""
        stored = self.store_file(upload.data, "document", suffix)
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": upload.file_name,
            "mime_type": mime_type,
            "file_size": len(upload.data),
        }
        self.documents[stored.file_id] = document
        return document

    def push(self, kind: str, payload: JSONDict) -> int:
        """Queue an update, unless the bot's allowed_updates keep the API from creating it."""
        update_id = next(self._update_ids)
        allowed = (
            kind not in _OPT_IN_UPDATES
            if self.allowed_updates is None
            else kind in self.allowed_updates
        )
        if allowed:
            self.updates.append({"update_id": update_id, kind: payload})
            self.notify()
        return update_id

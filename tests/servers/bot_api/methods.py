"""The Bot API methods the stub serves (getMe, getUpdates, sendMessage, ...)."""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tests.servers.bot_api.api import (
    CONFLICT,
    MAX_CAPTION,
    MAX_DOWNLOAD,
    MAX_POLL_TIMEOUT,
    MAX_TEXT,
    ApiError,
    JSONDict,
    bad_request,
)
from tests.servers.bot_api.files import StoredFile, Upload
from tests.servers.bot_api.markup import check_markup, render
from tests.servers.bot_api.state import Store, recordable, without_reply

_CHAT_ACTIONS = frozenset(
    "typing upload_photo record_video upload_video record_voice upload_voice upload_document"
    " choose_sticker find_location record_video_note upload_video_note".split()
)


class BotMethods(Store):
    """The Bot API methods, by their canonical names in ``methods``."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.methods: dict[str, Callable[[JSONDict], Awaitable[Any]]] = {
            "getMe": self.get_me,
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "sendDocument": self.send_document,
            "sendChatAction": self.send_chat_action,
            "getFile": self.get_file,
            "answerCallbackQuery": self.answer_callback_query,
            "editMessageText": self.edit_message_text,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
        }

    async def get_me(self, p: JSONDict) -> JSONDict:
        return {
            **self.bot,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def get_updates(self, p: JSONDict, gone: Callable[[], Awaitable[bool]]) -> list[JSONDict]:
        self._poll_generation += 1
        generation = self._poll_generation
        self.notify()  # an older getUpdates still waiting ends with 409 Conflict
        if "allowed_updates" in p:
            allowed = p["allowed_updates"]
            if not isinstance(allowed, list):
                raise bad_request("can't parse allowed updates")
            self.allowed_updates = frozenset(map(str, allowed)) or None
        offset = p.get("offset")
        if isinstance(offset, int) and offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif isinstance(offset, int) and offset < 0:
            self.updates = self.updates[offset:]  # the last -offset; the others are forgotten
        limit = min(max(int(p.get("limit") or 100), 1), 100)
        within = min(max(float(p.get("timeout") or 0), 0.0), MAX_POLL_TIMEOUT)
        self.polling += 1
        try:
            await self.wait_until(
                lambda: bool(self.updates) or generation != self._poll_generation, within, gone
            )
        finally:
            self.polling -= 1
        if generation != self._poll_generation:
            raise ApiError(409, CONFLICT)
        return copy.deepcopy(self.updates[:limit])

    async def send_message(self, p: JSONDict) -> JSONDict:
        chat = self.chat_for_bot(p.get("chat_id"))
        raw = p.get("text")
        if raw is None or raw == "":
            raise bad_request("message text is empty")
        text, entities = render(str(raw), p.get("parse_mode"), p.get("entities"))
        if not text.strip():
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        content: JSONDict = {"text": text}
        if entities:
            content["entities"] = entities
        return self.bot_sends("sendMessage", p, chat, content, {"text": raw})

    def _caption(self, p: JSONDict, content: JSONDict) -> None:
        raw = p.get("caption")
        if raw is None or raw == "":
            return
        caption, entities = render(str(raw), p.get("parse_mode"), p.get("caption_entities"))
        if len(caption) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        content["caption"] = caption
        if entities:
            content["caption_entities"] = entities

    def _existing_file(self, value: Any, kind: str) -> StoredFile:
        if isinstance(value, Upload) or not value:
            raise bad_request(f"there is no {kind} in the request")
        stored = self.files.get(str(value))
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise bad_request(f"can't use file of type {stored.kind.title()} as {kind.title()}")
        return stored

    async def send_photo(self, p: JSONDict) -> JSONDict:
        chat = self.chat_for_bot(p.get("chat_id"))
        photo = p.get("photo")
        if isinstance(photo, Upload):
            sizes = self.store_photo(photo.data)
        else:
            sizes = self.photo_sets[self._existing_file(photo, "photo").file_id]
        content: JSONDict = {"photo": copy.deepcopy(sizes)}
        self._caption(p, content)
        record = {"text": p.get("caption"), "file_id": sizes[-1]["file_id"]}
        return self.bot_sends("sendPhoto", p, chat, content, record)

    async def send_document(self, p: JSONDict) -> JSONDict:
        chat = self.chat_for_bot(p.get("chat_id"))
        value = p.get("document")
        if isinstance(value, Upload):
            document = self.store_document(value)
        else:
            document = self.documents[self._existing_file(value, "document").file_id]
        content: JSONDict = {"document": dict(document)}
        self._caption(p, content)
        record = {
            "text": p.get("caption"),
            "file_id": document["file_id"],
            "file_name": document["file_name"],
            "mime_type": document["mime_type"],
        }
        return self.bot_sends("sendDocument", p, chat, content, record)

    def _reply_target(self, chat: JSONDict, p: JSONDict) -> JSONDict | None:
        reply = p.get("reply_parameters")
        if reply is None and p.get("reply_to_message_id") is not None:
            reply = {
                "message_id": p["reply_to_message_id"],
                "allow_sending_without_reply": p.get("allow_sending_without_reply", False),
            }
        if reply is None:
            return None
        if not isinstance(reply, dict):
            raise bad_request("can't parse reply parameters JSON object")
        target = self.messages.get((reply.get("chat_id", chat["id"]), reply.get("message_id")))
        if target is None:
            if reply.get("allow_sending_without_reply"):
                return None
            raise bad_request("message to be replied not found")
        return without_reply(target)

    def bot_sends(
        self, method: str, p: JSONDict, chat: JSONDict, content: JSONDict, record: JSONDict
    ) -> JSONDict:
        keyboard = check_markup(p.get("reply_markup"))
        replied = self._reply_target(chat, p)
        if replied is not None:
            content["reply_to_message"] = replied
        if keyboard is not None:
            content["reply_markup"] = keyboard
        message = self.new_message(chat, self.bot, content)
        self.log["sent"].append(
            {
                "method": method,
                "chat_id": chat["id"],
                "message_id": message["message_id"],
                "caption": p.get("caption"),
                "parse_mode": p.get("parse_mode"),
                "reply_markup": p.get("reply_markup"),
                "reply_parameters": p.get("reply_parameters"),
                "disable_notification": bool(p.get("disable_notification", False)),
                **record,
                "message": copy.deepcopy(message),
                "params": recordable(p),
            }
        )
        self.notify()
        return message

    async def send_chat_action(self, p: JSONDict) -> bool:
        self.chat_for_bot(p.get("chat_id"))
        if p.get("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def get_file(self, p: JSONDict) -> JSONDict:
        stored = self.files.get(str(p.get("file_id") or ""))
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    async def answer_callback_query(self, p: JSONDict) -> bool:
        query_id = str(p.get("callback_query_id") or "")
        query = self.queries.get(query_id)
        if query is None:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self.log["callback_answers"].append(
            {
                "callback_query_id": query_id,
                "chat_id": query["message"]["chat"]["id"],
                "message_id": query["message"]["message_id"],
                "data": query.get("data"),
                "text": p.get("text"),
                "show_alert": bool(p.get("show_alert", False)),
                "url": p.get("url"),
                "params": recordable(p),
            }
        )
        self.notify()
        return True

    def _editable(self, p: JSONDict) -> JSONDict:
        if p.get("inline_message_id"):
            raise bad_request("message to edit not found")  # no inline mode here
        chat_id = p.get("chat_id")
        if chat_id is None:
            raise bad_request("chat_id is empty")
        message = self.messages.get((chat_id, p.get("message_id")))
        if message is None:
            raise bad_request("message to edit not found")
        if message["from"]["id"] != self.bot["id"]:
            raise bad_request("message can't be edited")
        return message

    def _record_edit(self, method: str, p: JSONDict, message: JSONDict) -> JSONDict:
        message["edit_date"] = int(time.time())
        self.log["edits"].append(
            {
                "method": method,
                "chat_id": message["chat"]["id"],
                "message_id": message["message_id"],
                "text": p.get("text"),
                "parse_mode": p.get("parse_mode"),
                "reply_markup": p.get("reply_markup"),
                "message": copy.deepcopy(message),
                "params": recordable(p),
            }
        )
        self.notify()
        return message

    @staticmethod
    def _apply(message: JSONDict, key: str, value: Any) -> None:
        if value:
            message[key] = value
        else:
            message.pop(key, None)

    async def edit_message_text(self, p: JSONDict) -> JSONDict:
        message = self._editable(p)
        raw = p.get("text")
        if raw is None or raw == "":
            raise bad_request("message text is empty")
        text, entities = render(str(raw), p.get("parse_mode"), p.get("entities"))
        if not text.strip():
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad_request("MESSAGE_TOO_LONG")
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        # As in the real API, an edit without reply_markup removes the inline keyboard.
        keyboard = check_markup(p.get("reply_markup"))
        unchanged = (
            message["text"] == text
            and message.get("entities", []) == entities
            and message.get("reply_markup") == keyboard
        )
        if unchanged:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a content and reply markup of the current message"
            )
        message["text"] = text
        self._apply(message, "entities", entities)
        self._apply(message, "reply_markup", keyboard)
        return self._record_edit("editMessageText", p, message)

    async def edit_message_reply_markup(self, p: JSONDict) -> JSONDict:
        message = self._editable(p)
        keyboard = check_markup(p.get("reply_markup"))
        if message.get("reply_markup") == keyboard:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a content and reply markup of the current message"
            )
        self._apply(message, "reply_markup", keyboard)
        return self._record_edit("editMessageReplyMarkup", p, message)

    async def delete_message(self, p: JSONDict) -> bool:
        chat_id, message_id = p.get("chat_id"), p.get("message_id")
        if self.messages.pop((chat_id, message_id), None) is None:
            raise bad_request("message to delete not found")
        self.log["deleted"].append({"chat_id": chat_id, "message_id": message_id})
        self.notify()
        return True

    @staticmethod
    def _commands_key(p: JSONDict) -> str:
        scope = p.get("scope") or {"type": "default"}
        return json.dumps([scope, p.get("language_code") or ""], sort_keys=True)

    async def set_my_commands(self, p: JSONDict) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(name)):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("command description must be non-empty")
        self.commands[self._commands_key(p)] = commands
        return True

    async def get_my_commands(self, p: JSONDict) -> list[JSONDict]:
        return self.commands.get(self._commands_key(p), [])

    async def delete_webhook(self, p: JSONDict) -> bool:
        if p.get("drop_pending_updates"):
            self.updates.clear()
            self.notify()
        return True

    async def get_webhook_info(self, p: JSONDict) -> JSONDict:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }

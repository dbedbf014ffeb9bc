"""What tests drive through ``/_stub/...``: users writing and pressing, records, faults."""

from __future__ import annotations

import base64
import copy

from tests.servers.bot_api.api import ControlError, JSONDict
from tests.servers.bot_api.files import Upload
from tests.servers.bot_api.markup import inline_buttons, user_entities
from tests.servers.bot_api.methods import BotMethods
from tests.servers.bot_api.state import Fault, without_reply


class State(BotMethods):
    """The whole stub: the Bot API methods plus the controls (the ``c_*`` methods) tests use."""

    def _user(self, body: JSONDict) -> JSONDict:
        user_id = body.get("user_id")
        if not isinstance(user_id, int) or user_id <= 0:
            raise ControlError("user_id must be a positive integer")
        user = self.users.get(user_id) or {
            "id": user_id,
            "is_bot": False,
            "first_name": "Jan",
            "language_code": "nl",
        }
        for key in ("first_name", "last_name", "username", "language_code"):
            if body.get(key) is not None:
                user[key] = body[key]
        self.users[user_id] = user
        return dict(user)

    def _user_chat(self, body: JSONDict, user: JSONDict) -> JSONDict:
        chat_id = body.get("chat_id")
        if not isinstance(chat_id, int) or chat_id == 0:
            raise ControlError("chat_id must be a non-zero integer")
        known = self.chats.get(chat_id, {})
        chat_type = body.get("chat_type") or known.get("type")
        if chat_type is None:
            chat_type = "private" if chat_id > 0 else "group"
            if str(chat_id).startswith("-100"):
                chat_type = "supergroup"
        if chat_type == "private":
            if chat_id != user["id"]:
                raise ControlError("a private chat's id is its user's id")
            chat = {"id": chat_id, "type": "private"}
            chat.update({k: user[k] for k in ("first_name", "last_name", "username") if k in user})
        elif chat_type in ("group", "supergroup"):
            if chat_id > 0:
                raise ControlError("group chats have negative ids")
            title = body.get("chat_title") or known.get("title") or "Test group"
            chat = {"id": chat_id, "type": chat_type, "title": title}
        else:
            raise ControlError(f"unknown chat_type {chat_type!r}")
        self.chats[chat_id] = chat
        return chat

    def user_message(self, body: JSONDict, content: JSONDict) -> JSONDict:
        user = self._user(body)
        chat = self._user_chat(body, user)
        reply_to = body.get("reply_to_message_id")
        if reply_to is not None:
            replied = self.messages.get((chat["id"], reply_to))
            if replied is None:
                raise ControlError(f"no message {reply_to} in chat {chat['id']} to reply to")
            content["reply_to_message"] = without_reply(replied)
        message = self.new_message(chat, user, content)
        update_id = self.push("message", copy.deepcopy(message))
        return {"update_id": update_id, "message_id": message["message_id"]}

    async def c_text(self, body: JSONDict) -> JSONDict:
        text = body.get("text")
        if not isinstance(text, str) or not text:
            raise ControlError("a user cannot send an empty text")
        content: JSONDict = {"text": text}
        if entities := user_entities(text):
            content["entities"] = entities
        return self.user_message(body, content)

    def _user_caption(self, body: JSONDict, content: JSONDict) -> None:
        caption = body.get("caption")
        if caption:
            content["caption"] = caption
            if entities := user_entities(caption):
                content["caption_entities"] = entities

    async def c_photo(self, body: JSONDict) -> JSONDict:
        content: JSONDict = {"photo": self.store_photo(base64.b64decode(body["data"]))}
        self._user_caption(body, content)
        return self.user_message(body, content)

    async def c_document(self, body: JSONDict) -> JSONDict:
        upload = Upload(
            str(body.get("file_name") or "document"),
            str(body.get("mime_type") or "application/octet-stream"),
            base64.b64decode(body["data"]),
        )
        content: JSONDict = {"document": self.store_document(upload)}
        self._user_caption(body, content)
        return self.user_message(body, content)

    def _find_button(self, body: JSONDict) -> tuple[JSONDict, str]:
        chat_id, message_id, label = body.get("chat_id"), body.get("message_id"), body.get("label")
        if message_id is not None:
            found = self.messages.get((chat_id, message_id))
            candidates = [found] if found is not None else []
        else:
            candidates = [m for (c, _), m in self.messages.items() if c == chat_id][::-1]
        for message in candidates:
            if message["from"]["id"] != self.bot["id"]:
                continue
            for text, value, is_callback in inline_buttons(message):
                if label is not None and text != label:
                    continue
                if label is not None and not is_callback:
                    raise ControlError(f"button {label!r} opens a URL; pressing it sends no update")
                if label is not None or (is_callback and value == body.get("data")):
                    return message, str(value)
        where = f"message {message_id}" if message_id is not None else "any bot message"
        wanted = f"labelled {label!r}" if label is not None else f"with data {body.get('data')!r}"
        raise ControlError(f"no button {wanted} on {where} in chat {chat_id}")

    async def c_press(self, body: JSONDict) -> JSONDict:
        if body.get("strict", True) or body.get("label") is not None:
            message, data = self._find_button(body)
        else:
            found = self.messages.get((body.get("chat_id"), body.get("message_id")))
            if found is None:
                raise ControlError("no such message")
            message, data = found, str(body.get("data"))
        user = self._user(body)
        query_id = str(4_000_000_000_000_000_000 + next(self._ids))
        query = {
            "id": query_id,
            "from": user,
            "message": copy.deepcopy(message),
            "chat_instance": str(-(abs(hash(message["chat"]["id"])) % 10**19)),
            "data": data,
        }
        self.queries[query_id] = query
        update_id = self.push("callback_query", copy.deepcopy(query))
        return {"update_id": update_id, "callback_query_id": query_id}

    async def c_update(self, body: JSONDict) -> JSONDict:
        update = body.get("update")
        if not isinstance(update, dict) or len(update) != 1:
            raise ControlError('give the update without update_id, e.g. {"edited_message": {...}}')
        ((kind, payload),) = update.items()
        return {"update_id": self.push(kind, payload)}

    async def c_list(self, body: JSONDict) -> list[JSONDict]:
        return self.select(str(body.get("what")), body.get("chat_id"), body.get("method"))

    async def c_wait(self, body: JSONDict) -> JSONDict:
        what = str(body.get("what"))
        count = int(body.get("count", 1))
        within = float(body.get("within", 10.0))
        if what == "confirmed":
            met = await self.wait_until(lambda: not self.updates, within)
            return {"met": met, "items": self.select("pending")}
        if what == "polling":
            met = await self.wait_until(lambda: self.polling > 0, within)
            return {"met": met, "items": []}
        self.select(what)  # unknown names fail at once

        def items() -> list[JSONDict]:
            return self.select(what, body.get("chat_id"), body.get("method"))

        met = await self.wait_until(lambda: len(items()) >= count, within)
        return {"met": met, "items": items()}

    async def c_message(self, body: JSONDict) -> JSONDict | None:
        return self.messages.get((body.get("chat_id"), body.get("message_id")))

    async def c_file(self, body: JSONDict) -> str:
        stored = self.files.get(str(body.get("file_id")))
        if stored is None:
            raise ControlError("no such file_id")
        return base64.b64encode(stored.data).decode()

    async def c_commands(self, body: JSONDict) -> list[JSONDict]:
        return self.commands.get(self._commands_key(body), [])

    async def c_fail(self, body: JSONDict) -> None:
        status = int(body["status"])
        if not 400 <= status <= 599:
            raise ControlError("a fault needs an HTTP error status (4xx or 5xx)")
        method = str(body["method"]).lower()
        known = {name.lower() for name in self.methods} | {"getupdates", "download"}
        if method != "*" and method not in known:
            raise ControlError(f"the stub does not serve {body['method']!r}")
        retry_after = body.get("retry_after")
        self.faults.append(
            Fault(
                method,
                status,
                int(body.get("count", 1)),
                None if retry_after is None else int(retry_after),
                body.get("description"),
            )
        )

    async def c_reset(self, body: JSONDict) -> None:
        self.reset()

    async def c_polling(self, body: JSONDict) -> int:
        return self.polling

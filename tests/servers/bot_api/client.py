"""BotApiStub, what tests use: play users, inspect what the bot did, wait, inject faults."""

from __future__ import annotations

import base64

from tests.servers.bot_api.api import JSONDict, StubError
from tests.servers.bot_api.markup import buttons
from tests.servers.bot_api.process import StubProcess


class BotApiStub(StubProcess):
    """Runs the stand-in as a subprocess and drives it: play users, inspect the bot, faults.

    All methods but the ``*_async`` ones are synchronous HTTP calls to the stub process; they are
    quick and safe inside async tests. Waiting, though, must not block a loop the bot runs in:
    there use ``wait_for_async``/``wait_sent_async``/``wait_confirmed_async``.
    The state lives as long as the process: a bot may restart at will, stop() forgets it all.
    """

    # -- users ---------------------------------------------------------------------------------

    @staticmethod
    def _who(
        chat_id: int,
        user_id: int,
        first_name: str | None,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
        chat_type: str | None,
        chat_title: str | None,
        reply_to_message_id: int | None,
    ) -> JSONDict:
        return {
            "chat_id": chat_id,
            "user_id": user_id,
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "language_code": language_code,
            "chat_type": chat_type,
            "chat_title": chat_title,
            "reply_to_message_id": reply_to_message_id,
        }

    def send_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        chat_type: str | None = None,
        chat_title: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        """The user writes ``text`` in the chat; returns the update_id.

        Entities as Telegram adds them: bot_command ("/status AVG-2026-0001"), email, mention,
        url. A user keeps the names
        given once (default first_name "Jan", language_code "nl"); chat_type defaults to
        private for a positive chat_id (which must equal user_id), "group" for a negative one
        ("supergroup" for -100...).
        """
        who = self._who(
            chat_id,
            user_id,
            first_name,
            last_name,
            username,
            language_code,
            chat_type,
            chat_title,
            reply_to_message_id,
        )
        return int(self._call("text", text=text, **who)["update_id"])

    def send_photo(
        self,
        chat_id: int,
        user_id: int,
        image: bytes,
        caption: str | None = None,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        chat_type: str | None = None,
        chat_title: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        """The user sends a photo; the message has several PhotoSize, smallest first.

        For a decodable image the smaller sizes are real JPEG thumbnails and the last (largest)
        serves ``image`` unchanged; otherwise every size serves ``image``.
        """
        who = self._who(
            chat_id,
            user_id,
            first_name,
            last_name,
            username,
            language_code,
            chat_type,
            chat_title,
            reply_to_message_id,
        )
        data = base64.b64encode(image).decode()
        return int(self._call("photo", data=data, caption=caption, **who)["update_id"])

    def send_document(
        self,
        chat_id: int,
        user_id: int,
        data: bytes,
        file_name: str,
        mime_type: str,
        caption: str | None = None,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        chat_type: str | None = None,
        chat_title: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        """The user sends a file (a PDF, or a photo sent "as file")."""
        who = self._who(
            chat_id,
            user_id,
            first_name,
            last_name,
            username,
            language_code,
            chat_type,
            chat_title,
            reply_to_message_id,
        )
        result = self._call(
            "document",
            data=base64.b64encode(data).decode(),
            file_name=file_name,
            mime_type=mime_type,
            caption=caption,
            **who,
        )
        return int(result["update_id"])

    def press_button(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        data: str,
        *,
        first_name: str | None = None,
        strict: bool = True,
    ) -> int:
        """The user presses the inline button with callback ``data`` on a bot message.

        Gives a callback_query update whose ``message`` is the message as it is now. StubError
        if the message (as edited so far) has no such button, unless ``strict=False`` (a forged
        callback).
        """
        result = self._call(
            "press",
            chat_id=chat_id,
            user_id=user_id,
            message_id=message_id,
            data=data,
            first_name=first_name,
            strict=strict,
        )
        return int(result["update_id"])

    def press_label(
        self,
        chat_id: int,
        user_id: int,
        label: str,
        *,
        message_id: int | None = None,
        first_name: str | None = None,
    ) -> int:
        """The user presses the button labelled ``label`` on the newest bot message showing one."""
        result = self._call(
            "press",
            chat_id=chat_id,
            user_id=user_id,
            message_id=message_id,
            label=label,
            first_name=first_name,
        )
        return int(result["update_id"])

    def push_update(self, update: JSONDict) -> int:
        """Any other update, given without update_id, e.g. ``{"my_chat_member": {...}}``."""
        return int(self._call("update", update=update)["update_id"])

    # -- inspecting -----------------------------------------------------------------------------

    def sent(self, chat_id: int | None = None, *, method: str | None = None) -> list[JSONDict]:
        """What the bot sent (sendMessage/sendPhoto/sendDocument that succeeded), in order.

        Keys: method, chat_id, message_id, text (the text or caption as sent, markup included),
        caption, parse_mode, reply_markup (parsed JSON, any keyboard type), reply_parameters,
        disable_notification, message (the Message as returned), params (all parameters); media
        add file_id (the largest photo size), and documents file_name, mime_type.
        """
        return list(self._call("list", what="sent", chat_id=chat_id, method=method))

    def edits(self, chat_id: int | None = None) -> list[JSONDict]:
        """editMessageText/editMessageReplyMarkup that succeeded: method, chat_id, message_id,
        text, parse_mode, reply_markup, message (after the edit), params."""
        return list(self._call("list", what="edits", chat_id=chat_id))

    def deleted(self, chat_id: int | None = None) -> list[JSONDict]:
        """deleteMessage that succeeded: chat_id, message_id."""
        return list(self._call("list", what="deleted", chat_id=chat_id))

    def callback_answers(self, chat_id: int | None = None) -> list[JSONDict]:
        """answerCallbackQuery that succeeded: callback_query_id, chat_id, message_id, data (of
        the pressed button), text, show_alert, url, params."""
        return list(self._call("list", what="callback_answers", chat_id=chat_id))

    def requests(self, method: str | None = None) -> list[JSONDict]:
        """Every Bot API call, in the order answered: method (canonical name; "download" for
        file downloads), status (HTTP; 499 for a long poll its client abandoned), params,
        error (description or None)."""
        return list(self._call("list", what="requests", method=method))

    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by a getUpdates offset."""
        return list(self._call("list", what="pending"))

    def polling(self) -> int:
        """How many getUpdates calls are waiting right now."""
        return int(self._call("polling"))

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """A message as it is now (edits applied); None if unknown or deleted."""
        result = self._call("message", chat_id=chat_id, message_id=message_id)
        return None if result is None else dict(result)

    def file_bytes(self, file_id: str) -> bytes:
        """The bytes behind a file_id (an upload of the bot's, or a user's file)."""
        return base64.b64decode(self._call("file", file_id=file_id))

    def commands(
        self, scope: JSONDict | None = None, language_code: str | None = None
    ) -> list[JSONDict]:
        """The command list setMyCommands stored for that scope (default) and language."""
        return list(self._call("commands", scope=scope, language_code=language_code))

    buttons = staticmethod(buttons)

    # -- waiting --------------------------------------------------------------------------------

    @staticmethod
    def _met(result: JSONDict, what: str, count: int, within: float) -> list[JSONDict]:
        if not result["met"]:
            raise StubError(f"{what}: {len(result['items'])} of {count} within {within} s")
        return list(result["items"])

    def wait_for(
        self,
        what: str,
        count: int = 1,
        *,
        chat_id: int | None = None,
        method: str | None = None,
        within: float = 10.0,
    ) -> list[JSONDict]:
        """Block until ``what`` ("sent", "edits", "deleted", "callback_answers", "requests")
        has ``count`` entries (filtered by chat_id/method); returns them. StubError otherwise.
        Only for a bot that does not run in this thread's event loop; else use wait_for_async."""
        query = {"what": what, "count": count, "chat_id": chat_id, "method": method}
        result = self._call("wait", within + 5, within=within, **query)
        return self._met(result, what, count, within)

    async def wait_for_async(
        self,
        what: str,
        count: int = 1,
        *,
        chat_id: int | None = None,
        method: str | None = None,
        within: float = 10.0,
    ) -> list[JSONDict]:
        """As wait_for, without blocking the event loop (for a bot running in this loop)."""
        query = {"what": what, "count": count, "chat_id": chat_id, "method": method}
        result = await self._call_async("wait", within + 5, within=within, **query)
        return self._met(result, what, count, within)

    def wait_sent(
        self, count: int = 1, *, chat_id: int | None = None, within: float = 10.0
    ) -> list[JSONDict]:
        return self.wait_for("sent", count, chat_id=chat_id, within=within)

    async def wait_sent_async(
        self, count: int = 1, *, chat_id: int | None = None, within: float = 10.0
    ) -> list[JSONDict]:
        return await self.wait_for_async("sent", count, chat_id=chat_id, within=within)

    def wait_confirmed(self, within: float = 10.0) -> None:
        """Until the bot has confirmed every update (none pending)."""
        result = self._call("wait", within + 5, what="confirmed", within=within)
        self._met(result, "confirmed", 0, within)

    async def wait_confirmed_async(self, within: float = 10.0) -> None:
        result = await self._call_async("wait", within + 5, what="confirmed", within=within)
        self._met(result, "confirmed", 0, within)

    async def wait_polling_async(self, within: float = 10.0) -> None:
        """Until some getUpdates is waiting (the bot is up and polling)."""
        result = await self._call_async("wait", within + 5, what="polling", within=within)
        self._met(result, "polling", 1, within)

    # -- faults ---------------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        status: int,
        count: int = 1,
        *,
        retry_after: int | None = None,
        description: str | None = None,
    ) -> None:
        """The next ``count`` calls of ``method`` (any case; "*" for any method, "download" for
        file downloads) answer ``status`` with the API's error JSON. 429 carries
        parameters.retry_after (default 1; PTB raises RetryAfter only when it is non-zero)."""
        self._call(
            "fail",
            method=method,
            status=status,
            count=count,
            retry_after=retry_after,
            description=description,
        )

    def reset(self) -> None:
        """Forget everything (updates, chats, messages, files, records, faults). update_ids
        keep increasing, so a bot that kept its offset still sees new updates."""
        self._call("reset")

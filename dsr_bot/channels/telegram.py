"""Telegram through python-telegram-bot, in the bot's own event loop.

`TelegramApi` wraps telegram.Bot with one retry policy: a 429 waits what the server asks
(up to telegram.max_retry_after_seconds), 5xx answers and network errors back off, anything
else (blocked by the user, a bad request) fails at once. `TelegramTransport` delivers outbox
rows. `TelegramPoller` long-polls getUpdates and hands each update, as a ChatUpdate, to a
handler that stores it together with the offset: an update is handled once, across restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import warnings
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from dsr_bot.config import TelegramSettings
from dsr_bot.domain.chat import ChatFile, ChatUpdate, parse_command
from dsr_bot.domain.outgoing import OutgoingMail
from dsr_bot.errors import ChannelError, DeliveryError

log = logging.getLogger(__name__)

# python-telegram-bot 22 warns on every RetryAfter unless time periods are timedeltas (read when
# used, so setting it here is in time), the behaviour it is moving to; this channel takes either.
os.environ.setdefault("PTB_TIMEDELTA", "true")

T = TypeVar("T")
MAX_TEXT = 4096  # Bot API limit per message
ATTEMPTS = 5  # per call, before the caller's own retry (the outbox, the poll loop) takes over
ALLOWED_UPDATES = ("message", "callback_query")


class Unavailable(ChannelError):
    """The Bot API did not answer usefully after the retries; try again later."""


class Refused(ChannelError):
    """The Bot API refused the call for good (bad request, bot blocked, bad token)."""


class TelegramApi:
    def __init__(self, settings: TelegramSettings, *, backoff: float = 0.5) -> None:
        token = settings.token.get_secret_value()
        poll = settings.poll_timeout_seconds
        self._settings = settings
        self._backoff = backoff
        self.bot = Bot(
            token,
            base_url=f"{settings.api_url}/bot",
            base_file_url=f"{settings.api_url}/file/bot",
            request=HTTPXRequest(connection_pool_size=8, read_timeout=30.0),
            get_updates_request=HTTPXRequest(read_timeout=poll + 10.0),
        )
        self.username: str | None = None

    async def start(self) -> None:
        """getMe: checks the token; raises Refused for a bad one, Unavailable when unreachable."""
        await self.call("getMe", self.bot.initialize)
        self.username = self.bot.username

    async def close(self) -> None:
        with contextlib.suppress(TelegramError, RuntimeError):
            await self.bot.shutdown()

    async def call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        """`fn` with the retry policy."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await fn()
            except RetryAfter as exc:
                wait = retry_after_seconds(exc)
                if wait > self._settings.max_retry_after_seconds:
                    raise Unavailable(f"{what}: flood control, retry after {wait:.0f} s") from exc
                log.info("telegram %s: flood control, waiting %.0f s", what, wait)
                await asyncio.sleep(wait)
            except InvalidToken as exc:
                raise Refused(f"{what}: the Bot API refused the token") from exc
            except (Forbidden, BadRequest) as exc:
                raise Refused(f"{what}: {self._clean(exc.message)}") from exc
            except (TimedOut, NetworkError) as exc:
                if attempt == ATTEMPTS:
                    raise Unavailable(f"{what}: {self._clean(exc.message)}") from exc
                await asyncio.sleep(min(30.0, self._backoff * 2 ** (attempt - 1)))
            except TelegramError as exc:  # Conflict, ChatMigrated...: not retried here
                raise Unavailable(f"{what}: {type(exc).__name__}") from exc
        raise Unavailable(f"{what}: flood control after {ATTEMPTS} attempts")

    def _clean(self, message: str) -> str:
        """An error's text without the token (the library quotes it in some of them)."""
        token = self._settings.token.get_secret_value()
        return message.replace(token, "<token>") if token else message

    async def send(
        self, chat_id: int, text: str, buttons: tuple[tuple[dict[str, str], ...], ...] = ()
    ) -> int:
        """Sends `text` (split at the Bot API's limit; the buttons go with the last part).
        Returns the last message's id."""
        parts = split_text(text)
        message_id = 0
        for index, part in enumerate(parts):
            markup = _markup(buttons) if index == len(parts) - 1 else None
            message: Message = await self.call(
                "sendMessage",
                lambda part=part, markup=markup: self.bot.send_message(  # type: ignore[misc]
                    chat_id, part, reply_markup=markup
                ),
            )
            message_id = message.message_id
        return message_id

    async def answer(self, callback_id: str, text: str, *, alert: bool = False) -> None:
        await self.call(
            "answerCallbackQuery",
            lambda: self.bot.answer_callback_query(callback_id, text[:200], show_alert=alert),
        )

    async def edit(self, chat_id: int, message_id: int, text: str) -> None:
        """Replaces a message's text; its buttons go (they were answered)."""
        await self.call(
            "editMessageText",
            lambda: self.bot.edit_message_text(
                split_text(text)[0], chat_id=chat_id, message_id=message_id
            ),
        )

    async def download(self, file_id: str, max_bytes: int) -> bytes | None:
        """The file's bytes; None when it cannot be had (too large, gone). Raises
        Unavailable when the API is down: the update is tried again."""
        try:
            file = await self.call("getFile", lambda: self.bot.get_file(file_id))
            if file.file_size is not None and file.file_size > max_bytes:
                raise Refused(f"getFile: {file.file_size} bytes is more than {max_bytes}")
            data = await self.call("download", file.download_as_bytearray)
        except Refused as exc:
            log.warning("telegram: a file was not fetched (%s)", exc)
            return None
        return bytes(data) if len(data) <= max_bytes else None

    async def updates(self, offset: int | None) -> tuple[Update, ...]:
        timeout = self._settings.poll_timeout_seconds
        return await self.call(
            "getUpdates",
            lambda: self.bot.get_updates(
                offset=offset,
                timeout=timedelta(seconds=timeout),
                allowed_updates=ALLOWED_UPDATES,
            ),
        )


class TelegramTransport:
    """Delivers outbox rows of channel "telegram": the recipient is a chat id."""

    def __init__(self, api: TelegramApi) -> None:
        self._api = api

    async def send(self, mail: OutgoingMail) -> None:
        text = f"{mail.subject}\n\n{mail.body}" if mail.subject else mail.body
        try:
            await self._api.send(int(mail.recipient), text.strip(), mail.buttons)
        except Refused as exc:
            raise DeliveryError(str(exc), permanent=True) from exc
        except Unavailable as exc:
            raise DeliveryError(str(exc)) from exc


class UpdateHandler(Protocol):
    async def position(self) -> int | None:
        """The last update id handled, or None."""
        ...

    async def handle(self, update: ChatUpdate) -> None:
        """Store the update and its effects with the new position; raises to be retried."""
        ...


class TelegramPoller:
    def __init__(
        self,
        api: TelegramApi,
        handler: UpdateHandler,
        *,
        initial_backoff: float = 1.0,
        max_backoff: float = 60.0,
    ) -> None:
        self._api = api
        self._handler = handler
        self._initial = initial_backoff
        self._max = max_backoff

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        position: int | None = None
        while not stop.is_set():
            try:
                if self._api.username is None:
                    await self._api.start()
                    log.info("telegram: connected as @%s, long polling", self._api.username)
                if position is None:
                    position = await self._handler.position()
                updates = await _until_stopped(
                    self._api.updates(position + 1 if position is not None else None), stop
                )
                if updates is None:
                    return
                for update in updates:
                    chat_update = to_chat_update(update)
                    if chat_update is not None:
                        await self._handler.handle(chat_update)
                    position = update.update_id
                failures = 0
            except Refused as exc:
                # A bad token will not get better by asking again.
                log.error("telegram: %s; the chat channel stops (check the token)", exc)
                return
            except Exception as exc:
                failures += 1
                wait = min(self._max, self._initial * 2 ** (failures - 1))
                # Type only: an exception's text may quote what the person wrote.
                log.warning(
                    "telegram: %s; retrying in %.0f s",
                    exc if isinstance(exc, Unavailable) else type(exc).__name__,
                    wait,
                )
                position = None  # read it again: a failed update was not stored
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)


async def _until_stopped(call: Awaitable[T], stop: asyncio.Event) -> T | None:
    """The call's result, or None once `stop` is set (a long poll is not waited out)."""
    task = asyncio.ensure_future(call)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return None


def to_chat_update(update: Update) -> ChatUpdate | None:
    """The parts of an update dsr-bot uses; None for kinds it ignores (edits, channel posts)."""
    if update.callback_query is not None:
        return _from_callback(update.update_id, update.callback_query)
    message = update.message
    if message is None:
        return None
    user = message.from_user
    text = message.text or message.caption or ""
    command = parse_command(message.text or "")
    return ChatUpdate(
        update_id=update.update_id,
        chat_id=message.chat.id,
        private=message.chat.type == "private",
        at=_aware(message.date),
        user_id=user.id if user else None,
        user_name=user.full_name if user else None,
        language_code=user.language_code if user else None,
        message_id=message.message_id,
        text="" if command else text,
        command=command[0] if command else None,
        args=command[1] if command else "",
        file=_file(message),
    )


def _from_callback(update_id: int, query: CallbackQuery) -> ChatUpdate | None:
    message = query.message
    if message is None:
        return None
    return ChatUpdate(
        update_id=update_id,
        chat_id=message.chat.id,
        private=message.chat.type == "private",
        at=datetime.now(UTC),
        user_id=query.from_user.id,
        user_name=query.from_user.full_name,
        language_code=query.from_user.language_code,
        message_id=message.message_id,
        button=query.data or "",
        callback_id=query.id,
        button_message_text=getattr(message, "text", None) or "",
    )


def _file(message: Message) -> ChatFile | None:
    if message.photo:
        largest = message.photo[-1]
        return ChatFile(largest.file_id, "photo", "image/jpeg", largest.file_size)
    document = message.document
    if document is not None:
        return ChatFile(
            document.file_id,
            "document",
            (document.mime_type or "application/octet-stream").lower(),
            document.file_size,
            document.file_name,
        )
    return None


def _markup(buttons: tuple[tuple[dict[str, str], ...], ...]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b["text"], url=b["url"])
                if "url" in b
                else InlineKeyboardButton(b["text"], callback_data=b["data"])
                for b in row
            ]
            for row in buttons
        ]
    )


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Parts of at most `limit` characters, cut at a paragraph or line break where possible."""
    parts: list[str] = []
    rest = text.strip() or "-"
    while len(rest) > limit:
        cut = max(rest.rfind("\n\n", 0, limit), rest.rfind("\n", 0, limit))
        if cut <= limit // 2:
            cut = rest.rfind(" ", 0, limit)
        if cut <= limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return parts


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

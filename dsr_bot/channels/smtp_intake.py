"""SMTP intake (aiosmtpd) on the bot's own event loop: mail delivered straight to dsr-bot.

A message is answered 250 only once it is stored, so a sending server keeps it until then.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from dsr_bot.channels.intake import raw_to_item
from dsr_bot.channels.mime import MimeLimits
from dsr_bot.errors import ChannelError, StoreError
from dsr_bot.services.pipeline import Pipeline

log = logging.getLogger(__name__)

SOURCE = "smtp"
_PARSE_IN_THREAD_BYTES = 512 * 1024  # big mails are parsed off the event loop


class _Handler:
    def __init__(self, pipeline: Pipeline, limits: MimeLimits) -> None:
        self._pipeline = pipeline
        self._limits = limits

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        received_at = datetime.now(UTC)
        mail_from = envelope.mail_from or None
        args: dict[str, Any] = {
            "source": SOURCE,
            "external_id": uuid.uuid4().hex,
            "received_at": received_at,
            "envelope_from": mail_from if mail_from and mail_from != "<>" else None,
            "limits": self._limits,
        }
        if len(raw) > _PARSE_IN_THREAD_BYTES:
            item = await asyncio.to_thread(raw_to_item, raw, **args)
        else:
            item = raw_to_item(raw, **args)
        try:
            outcome = (await self._pipeline.ingest([item]))[0]
        except StoreError as exc:
            log.error("smtp intake: message not stored (%s); asked the sender to retry", exc)
            return "451 4.3.0 Temporary failure, please try again later"
        return f"250 2.0.0 OK {outcome.reference or 'stored'}"


class SmtpIntake:
    """Listens on host:port while entered."""

    def __init__(
        self, *, host: str, port: int, pipeline: Pipeline, max_bytes: int, limits: MimeLimits
    ) -> None:
        self.host = host
        self.port = port
        self._handler = _Handler(pipeline, limits)
        self._max_bytes = max_bytes
        self._server: asyncio.Server | None = None

    def _protocol(self) -> SMTP:
        return SMTP(
            self._handler,
            data_size_limit=self._max_bytes,
            enable_SMTPUTF8=True,
            hostname="dsr-bot",
            ident="dsr-bot intake",
            loop=asyncio.get_running_loop(),
        )

    async def __aenter__(self) -> SmtpIntake:
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(self._protocol, self.host, self.port)
        except OSError as exc:
            raise ChannelError(
                f"cannot listen for SMTP on {self.host}:{self.port}: {exc.strerror}"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("smtp intake listening on %s:%s", self.host, self.port)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

"""The sender loop: delivers outbox rows, retrying with backoff while a relay is down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.config import MailSettings
from dsr_bot.domain.cases import EventKind
from dsr_bot.domain.outgoing import Attachment, OutgoingMail
from dsr_bot.errors import DeliveryError
from dsr_bot.services.backlog import Backlog
from dsr_bot.services.pipeline import utcnow
from dsr_bot.store import queries
from dsr_bot.store.engine import UNAVAILABLE, describe_failure
from dsr_bot.store.sealed import Sealer, SealError
from dsr_bot.store.tables import CaseEventRow, OutboxAttachmentRow, OutboxRow

log = logging.getLogger(__name__)


class Transport(Protocol):
    """A way out: raises DeliveryError when the message did not go."""

    async def send(self, mail: OutgoingMail) -> None: ...


class ByChannel:
    """The transport of each channel; a message for a channel that is off waits (and is retried
    with backoff) rather than being dropped: the channel may be switched on again."""

    def __init__(self, transports: dict[str, Transport]) -> None:
        self._transports = transports

    async def send(self, mail: OutgoingMail) -> None:
        transport = self._transports.get(mail.channel)
        if transport is None:
            raise DeliveryError(f"the {mail.channel} channel is off")
        await transport.send(mail)


IDLE_POLL_SECONDS = 5.0


def backoff(attempts: int, initial: float, maximum: float) -> timedelta:
    """Doubling delay after each failed attempt, capped."""
    return timedelta(seconds=min(maximum, initial * 2 ** max(0, attempts - 1)))


class OutboxSender:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        transport: Transport,
        settings: MailSettings,
        clock: Callable[[], datetime] = utcnow,
        batch: int = 20,
        backlog: Backlog | None = None,
        sealer: Sealer | None = None,
    ) -> None:
        self._sessions = sessions
        self._sealer = sealer  # opens attachments (access and portability packages)
        self._transport = transport
        self._settings = settings
        self._clock = clock
        self._batch = batch
        self._wake = asyncio.Event()
        self._backlog = backlog or Backlog()

    def notify(self) -> None:
        """New rows are waiting: deliver now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            await self._backlog.quiet()
            try:
                sent = await self.deliver_due()
            except UNAVAILABLE as exc:
                log.warning("outbox: database unavailable (%s); retrying", describe_failure(exc))
                sent = 0
            if sent >= self._batch:
                continue  # more may be waiting
            await self._sleep(stop)

    async def _sleep(self, stop: asyncio.Event) -> None:
        timeout = IDLE_POLL_SECONDS
        with contextlib.suppress(*UNAVAILABLE):
            async with self._sessions() as session:
                due = await queries.next_outbox_due(session)
            if due is not None:
                timeout = max(0.0, min(timeout, (due - self._clock()).total_seconds()))
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    async def deliver_due(self) -> int:
        """Send what is due now; returns how many rows were tried."""
        now = self._clock()
        async with self._sessions.begin() as session:
            rows = await queries.claim_due_outbox(
                session,
                now=now,
                lease_until=now + timedelta(seconds=self._settings.delivery_lease_seconds),
                limit=self._batch,
            )
            files = await queries.outbox_attachments(
                session, [r.id for r in rows if r.channel == "email"]
            )
            claimed = [
                (_Sent(r.id, r.case_id, r.kind), _outgoing(r), files.get(r.id, [])) for r in rows
            ]
        # Send outside the transaction: a slow relay must not hold database locks.
        failed: dict[int, DeliveryError] = {}
        for row, mail, sealed in claimed:
            try:
                if sealed:
                    mail = replace(mail, attachments=self._open(sealed))
                await self._transport.send(mail)
            except DeliveryError as exc:
                failed[row.id] = exc
            else:
                # Recorded before the next one goes: a crash (or the database going away) then
                # leaves at most this one message sent but not marked, to be sent again.
                await self._record([row], {}, {row.id} if sealed else set())
        if failed:
            await self._record([], failed, {row.id for row, _, files in claimed if files})
        return len(claimed)

    def _open(self, sealed: list[OutboxAttachmentRow]) -> tuple[Attachment, ...]:
        """The attachments, decrypted in memory only; a DeliveryError when they cannot be."""
        if self._sealer is None:
            raise DeliveryError("attachments waiting, but the sender has no key to open them")
        try:
            return tuple(
                Attachment(row.filename, row.content_type, self._sealer.open(row.sealed))
                for row in sealed
            )
        except SealError as exc:
            raise DeliveryError(str(exc), permanent=True) from None

    async def _record(
        self, sent: list[_Sent], failed: dict[int, DeliveryError], with_files: set[int]
    ) -> None:
        """Results in one transaction: a delivery as soon as it went, the failures of a batch
        together. Attachments (of the rows in `with_files`) are not kept once their message
        went, or failed for good."""
        now = self._clock()
        events: list[dict[str, object]] = []
        done = [row.id for row in sent if row.id in with_files]
        async with self._sessions.begin() as session:
            if sent:
                await queries.mark_outbox_sent(session, [row.id for row in sent], now)
            for row in sent:
                log.info("outbox %s delivered (%s)", row.id, row.kind)
                if row.case_id is not None:
                    events.append(_sent_event(row.case_id, row.id, now))
            if failed:
                rows = await queries.outbox_rows(session, failed)
                for row_id, error in failed.items():
                    events += self._apply(rows[row_id], error, now)
                    if row_id in with_files and rows[row_id].status == "failed":
                        done.append(row_id)
            await queries.delete_outbox_attachments(session, done)
            await queries.insert_rows(session, CaseEventRow, events)

    def _apply(
        self, row: OutboxRow, error: DeliveryError, now: datetime
    ) -> list[dict[str, object]]:
        """Update the row for a failed attempt; returns the audit events to add."""
        row.last_error = str(error)
        if error.permanent or row.attempts >= self._settings.max_attempts:
            row.status = "failed"
            log.error(
                "outbox %s failed for good after %s attempts: %s", row.id, row.attempts, error
            )
            return _event(
                row,
                now,
                EventKind.DELIVERY_FAILED,
                {"outbox": row.id, "error": str(error), "attempts": row.attempts},
            )
        delay = backoff(
            row.attempts, self._settings.retry_initial_seconds, self._settings.retry_max_seconds
        )
        row.next_attempt_at = now + delay
        log.warning(
            "outbox %s not delivered (%s); attempt %s, next in %ss",
            row.id,
            error,
            row.attempts,
            int(delay.total_seconds()),
        )
        return []


@dataclass(frozen=True, slots=True)
class _Sent:
    """What recording a delivery needs of its row, kept from the claim."""

    id: int
    case_id: int | None
    kind: str


def _sent_event(case_id: int, outbox_id: int, now: datetime) -> dict[str, object]:
    return {
        "case_id": case_id,
        "at": now,
        "actor": "system",
        "kind": EventKind.MESSAGE_SENT.value,
        "detail": {"outbox": outbox_id},
    }


def _outgoing(row: OutboxRow) -> OutgoingMail:
    return OutgoingMail(
        sender=row.sender,
        sender_name=row.sender_name,
        recipient=row.recipient,
        subject=row.subject,
        body=row.body,
        language=row.language,
        message_id=row.message_id,
        created_at=row.created_at,
        in_reply_to=row.in_reply_to,
        references=tuple(row.references),
        auto_submitted=row.auto_submitted,
        channel=row.channel,
        buttons=tuple(tuple(button) for button in row.buttons or ()),
    )


def _event(
    row: OutboxRow, now: datetime, kind: EventKind, detail: dict[str, object]
) -> list[dict[str, object]]:
    if row.case_id is None:
        return []
    return [
        {"case_id": row.case_id, "at": now, "actor": "system", "kind": kind.value, "detail": detail}
    ]

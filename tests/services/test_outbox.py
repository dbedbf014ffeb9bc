"""The sender loop against a real SMTP relay on loopback: delivery, retries, permanent failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.channels.mail_out import SmtpTransport
from dsr_bot.channels.mime import parse_mail
from dsr_bot.config import parse_server_url
from dsr_bot.nlp.classifier import Unclassified
from dsr_bot.replies import Replies
from dsr_bot.services.outbox import OutboxSender, backoff
from dsr_bot.services.pipeline import Pipeline
from dsr_bot.store.tables import CaseEventRow, OutboxRow
from tests.conftest import make_settings, request_mail
from tests.servers.smtp_relay import SmtpRelay


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def _queue_ack(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path, clock: Clock
) -> None:
    pipeline = Pipeline(
        sessions=sessions,
        settings=make_settings(database_url, tmp_path),
        classifier=Unclassified(),
        replies=Replies(),
        clock=clock,
    )
    raw = request_mail(message_id="<req-1@example.nl>").as_bytes()
    await pipeline.ingest(
        [parse_mail(raw, source="info", external_id="1:1", received_at=clock.now)]
    )


async def _row(sessions: async_sessionmaker[AsyncSession]) -> OutboxRow:
    async with sessions() as session:
        row: OutboxRow | None = await session.scalar(select(OutboxRow))
    assert row is not None
    return row


async def test_mail_waits_while_the_relay_is_down_and_goes_once_it_is_back(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    clock = Clock()
    await _queue_ack(sessions, database_url, tmp_path, clock)
    relay = SmtpRelay()  # not started yet: connections are refused
    settings = make_settings(database_url, tmp_path).mail
    sender = OutboxSender(
        sessions=sessions,
        transport=SmtpTransport(parse_server_url(f"smtp://127.0.0.1:{relay.port}", ("smtp",))),
        settings=settings,
        clock=clock,
    )
    assert await sender.deliver_due() == 1
    row = await _row(sessions)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None and "unreachable" in row.last_error
    assert row.next_attempt_at == clock.now + backoff(1, settings.retry_initial_seconds, 900)

    assert await sender.deliver_due() == 0  # not due yet: backoff is respected
    clock.now += timedelta(seconds=1)
    assert await sender.deliver_due() == 1  # second failure doubles the wait
    row = await _row(sessions)
    assert row.next_attempt_at - clock.now == timedelta(seconds=2 * settings.retry_initial_seconds)

    with relay:
        clock.now += timedelta(seconds=10)
        assert await sender.deliver_due() == 1
        [mail] = relay.received
    row = await _row(sessions)
    assert (row.status, row.attempts) == ("sent", 3)
    assert mail["To"] == "jan@example.nl"
    assert mail["In-Reply-To"] == "<req-1@example.nl>"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["Message-ID"] == row.message_id


async def test_a_refused_recipient_fails_for_good_and_is_logged_on_the_case(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    clock = Clock()
    await _queue_ack(sessions, database_url, tmp_path, clock)
    with SmtpRelay() as relay:
        relay.answer_with("550 5.1.1 mailbox unknown")
        sender = OutboxSender(
            sessions=sessions,
            transport=SmtpTransport(parse_server_url(f"smtp://127.0.0.1:{relay.port}", ("smtp",))),
            settings=make_settings(database_url, tmp_path).mail,
            clock=clock,
        )
        await sender.deliver_due()
    row = await _row(sessions)
    assert row.status == "failed"
    async with sessions() as session:
        kinds = list(await session.scalars(select(CaseEventRow.kind).order_by(CaseEventRow.id)))
    assert kinds[-1] == "delivery_failed"
    clock.now += timedelta(days=1)
    assert await sender.deliver_due() == 0  # never retried

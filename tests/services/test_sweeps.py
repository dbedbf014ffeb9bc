"""The deadline sweep driven through time with an injected clock, across restarts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.channels.mime import parse_mail
from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.nlp.classifier import Unclassified
from dsr_bot.replies import Replies
from dsr_bot.services.pipeline import Pipeline
from dsr_bot.services.sweeps import SWEEP_LOCK, Sweeper
from dsr_bot.store.tables import CaseEventRow, CaseRow, NoticeRow, OutboxRow
from tests.conftest import make_settings, request_mail

# Received Wed 4 Nov 2026: promise Wed 2 Dec, legal deadline Fri 4 Dec 2026.
RECEIVED = datetime(2026, 11, 4, 10, 0, tzinfo=AMSTERDAM)


async def _open_case(sessions: async_sessionmaker[AsyncSession], settings: object) -> None:
    pipeline = Pipeline(
        sessions=sessions,
        settings=settings,  # type: ignore[arg-type]
        classifier=Unclassified(),
        replies=Replies(),
        clock=lambda: RECEIVED.astimezone(UTC),
    )
    raw = request_mail().as_bytes()
    await pipeline.ingest([parse_mail(raw, source="info", external_id="1:1", received_at=RECEIVED)])


async def _sweep_at(
    sessions: async_sessionmaker[AsyncSession], settings: object, moment: datetime
) -> list[str]:
    # A new Sweeper each time: as after a restart, it knows only what the database knows.
    sweeper = Sweeper(
        sessions=sessions,
        settings=settings,  # type: ignore[arg-type]
        replies=Replies(),
        clock=lambda: moment,
    )
    return (await sweeper.sweep()).sent


async def test_reminders_and_escalations_come_on_the_right_days_once_each(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        staff={"privacy_officer": "po@example.nl", "digest_time": "08:00", "daily_digest": True},
    )
    await _open_case(sessions, settings)
    sent_on: dict[str, date] = {}
    day = date(2026, 11, 5)
    while day <= date(2026, 12, 10):
        for hour in (7, 9, 15):  # several sweeps a day, before and after the digest time
            moment = datetime(day.year, day.month, day.day, hour, tzinfo=AMSTERDAM)
            for key in await _sweep_at(sessions, settings, moment):
                assert key not in sent_on, f"{key} sent twice"
                sent_on[key] = day
        day += timedelta(days=1)

    notices = {k: v for k, v in sent_on.items() if not k.startswith("digest:")}
    assert notices == {
        "promise_near:AVG-2026-0001:2026-12-02:7": date(2026, 11, 23),
        "legal_near:AVG-2026-0001:2026-12-04:7": date(2026, 11, 25),
        "promise_near:AVG-2026-0001:2026-12-02:3": date(2026, 11, 27),
        "extension_prompt:AVG-2026-0001:2026-12-04:0": date(2026, 11, 27),
        "legal_near:AVG-2026-0001:2026-12-04:3": date(2026, 12, 1),
        "promise_near:AVG-2026-0001:2026-12-02:1": date(2026, 12, 1),
        "promise_overdue:AVG-2026-0001:2026-12-02:0": date(2026, 12, 3),
        "legal_near:AVG-2026-0001:2026-12-04:1": date(2026, 12, 3),
        "legal_overdue:AVG-2026-0001:2026-12-04:0": date(
            2026, 12, 5
        ),  # the day after, weekend or not
    }
    digests = sorted(v for k, v in sent_on.items() if k.startswith("digest:"))
    assert digests == sorted({d for d in digests}) and len(digests) == 36  # one a day

    async with sessions() as session:
        mail = list(await session.scalars(select(OutboxRow).where(OutboxRow.source == "staff")))
        events = list(await session.scalars(select(CaseEventRow.kind)))
        recorded = list(await session.scalars(select(NoticeRow.key)))
    assert len(recorded) == len(sent_on)
    assert {m.recipient for m in mail} == {"po@example.nl"}
    escalation = next(m for m in mail if m.kind == "staff_escalation")
    assert "AVG-2026-0001" in escalation.subject
    assert all(m.auto_submitted == "auto-generated" for m in mail)
    assert events.count("reminder_sent") == 6 and events.count("escalated") == 3


async def test_reminders_go_to_the_assignee_as_well(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, staff={"privacy_officer": "po@example.nl"})
    await _open_case(sessions, settings)
    async with sessions.begin() as session:
        case = await session.scalar(select(CaseRow))
        assert case is not None
        case.assignee = "staff@example.nl"
    await _sweep_at(sessions, settings, datetime(2026, 11, 23, 7, tzinfo=AMSTERDAM))
    async with sessions() as session:
        mail = list(await session.scalars(select(OutboxRow).where(OutboxRow.source == "staff")))
    assert sorted(m.recipient for m in mail) == ["po@example.nl", "staff@example.nl"]


async def test_a_paused_or_closed_case_gets_no_reminders(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    await _open_case(sessions, settings)
    async with sessions.begin() as session:
        case = await session.scalar(select(CaseRow))
        assert case is not None
        case.paused_since = date(2026, 11, 20)
    assert await _sweep_at(sessions, settings, datetime(2026, 11, 23, 7, tzinfo=AMSTERDAM)) == []
    async with sessions.begin() as session:
        case = await session.scalar(select(CaseRow))
        assert case is not None
        case.paused_since = None
        case.state = "closed"
    assert await _sweep_at(sessions, settings, datetime(2026, 12, 7, 7, tzinfo=AMSTERDAM)) == []


async def test_only_one_process_sweeps_at_a_time_on_postgresql(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time anyway")
    settings = make_settings(database_url, tmp_path)
    await _open_case(sessions, settings)
    moment = datetime(2026, 11, 23, 9, tzinfo=AMSTERDAM)
    sweeper = Sweeper(sessions=sessions, settings=settings, replies=Replies(), clock=lambda: moment)
    async with sessions.begin() as other:  # another process, in the middle of its sweep
        await other.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SWEEP_LOCK})
        blocked = await sweeper.sweep()
    assert not blocked.ran and blocked.sent == []
    assert (await sweeper.sweep()).sent  # once the lock is free, the reminder goes out


def test_a_long_digest_lists_the_first_hundred_and_says_how_many_more() -> None:
    row = {
        "reference": "AVG-2026-0001",
        "kinds": ["access"],
        "deadline": date(2026, 11, 20),
        "which": "wettelijk",
        "working_days_left": -3,
    }
    rendered = Replies().render(
        "staff_digest",
        "nl",
        today=date(2026, 11, 25),
        open_count=400,
        triage_count=0,
        due_soon=[],
        overdue=[row] * 100,
        due_soon_total=0,
        overdue_total=350,
    )
    assert "350 te laat" in rendered.subject
    assert "Termijn verstreken (350)" in rendered.body
    assert "en nog 250; de hele lijst: dsr-bot cases list" in rendered.body
    assert rendered.body.count("AVG-2026-0001") == 100


async def test_the_staff_chat_gets_one_message_with_the_days_reminders(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        telegram={"token": "1:test", "staff_chat_id": -100777},
    )
    await _open_case(sessions, settings)
    # 27 November: the promise is 3 working days off, and the extension prompt is due.
    await _sweep_at(sessions, settings, datetime(2026, 11, 27, 9, tzinfo=AMSTERDAM))
    async with sessions() as s:
        chat = list(await s.scalars(select(OutboxRow).where(OutboxRow.channel == "telegram")))
    # The case's arrival was announced when it came in; the sweep adds one message.
    assert [m.kind for m in chat] == ["staff_chat_new_case", "staff_chat_notices"]
    message = chat[1]
    assert message.recipient == "-100777"
    lines = message.body.splitlines()
    assert "Herinnering: AVG-2026-0001: onze belofte van vier weken loopt af op" in lines[0]
    assert "(nog 3 werkdagen)" in lines[0]
    assert any(line.startswith("Let op: AVG-2026-0001: de wettelijke termijn") for line in lines)
    assert "Verleng de termijn of stuur een weigering" in message.body
    assert "Jan" not in message.body and "example.nl" not in message.body

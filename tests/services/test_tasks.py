"""A case's checklist: generated per kind from [tasks], extended by staff, ticked off, assigned."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.channels.mime import parse_mail
from dsr_bot.config import Settings
from dsr_bot.domain.cases import RequestKind
from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.replies import Replies
from dsr_bot.services import staff as accounts
from dsr_bot.services import tasks
from dsr_bot.services.casework import CaseworkError
from dsr_bot.services.pipeline import Pipeline
from dsr_bot.store.tables import CaseEventRow, CaseRow, OutboxRow, StaffRow, TaskRow
from tests.conftest import FixedClassifier, make_settings, request_mail

RECEIVED = datetime(2026, 11, 4, 10, 0, tzinfo=AMSTERDAM)  # promise 2 Dec, legal 4 Dec 2026
NOW = datetime(2026, 11, 10, 9, 0, tzinfo=AMSTERDAM)
SAM, SARA = "sam@academiewerkendleren.nl", "sara@academiewerkendleren.nl"
_ids = itertools.count(1)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url, tmp_path, console={"public_url": "https://console.example.nl"}
    )


async def open_case(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    kind: RequestKind,
    *,
    confident: bool = True,
) -> CaseRow:
    pipeline = Pipeline(
        sessions=sessions,
        settings=settings,
        classifier=FixedClassifier(kind, confident=confident),
        replies=Replies(),
        clock=lambda: RECEIVED.astimezone(UTC),
    )
    number = next(_ids)
    raw = request_mail(sender="Jan Jansen <jan@example.nl>").as_bytes()
    [outcome] = await pipeline.ingest(
        [parse_mail(raw, source="info", external_id=f"1:{number}", received_at=RECEIVED)]
    )
    async with sessions() as s:
        case = await s.scalar(select(CaseRow).where(CaseRow.reference == outcome.reference))
    assert case is not None
    return case


async def steps(sessions: async_sessionmaker[AsyncSession], case: CaseRow) -> list[TaskRow]:
    async with sessions() as s:
        return await tasks.for_case(s, case)


async def events(sessions: async_sessionmaker[AsyncSession], case: CaseRow) -> list[CaseEventRow]:
    async with sessions() as s:
        return list(
            await s.scalars(
                select(CaseEventRow)
                .where(CaseEventRow.case_id == case.id)
                .order_by(CaseEventRow.id)
            )
        )


async def add_staff(sessions: async_sessionmaker[AsyncSession], email: str) -> StaffRow:
    async with sessions.begin() as s:
        return await accounts.add(s, email, "staff", "correct horse battery", NOW, actor="test")


async def test_an_access_case_gets_a_search_step_per_system_of_the_profile_in_order(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    case = await open_case(sessions, settings, RequestKind.ACCESS)
    found = await steps(sessions, case)
    titles = [t.title for t in found]
    systems = [system.name for system in settings.profiles["default"].systems]
    assert [title.split(":")[0] for title in titles[:-1]] == systems  # CRM, Leeromgeving, ...
    assert all("zoek de persoon op" in title for title in titles[:-1])
    assert "export" in titles[-1]
    assert [t.key for t in found] == [f"access/{i}" for i in range(len(systems) + 1)]
    assert all(t.done_at is None and t.assignee is None for t in found)


async def test_an_erasure_case_erases_in_each_system_and_tells_the_recipients(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    case = await open_case(sessions, settings, RequestKind.ERASURE)
    titles = [t.title for t in await steps(sessions, case)]
    for system in ("CRM", "Leeromgeving", "Mailbox", "Boekhouding"):
        assert f"{system}: wis de gegevens, of noteer waarom ze blijven" in titles
    assert titles[-1] == "Informeer de ontvangers van de gegevens (art. 19 AVG)"


async def test_the_checklist_is_what_the_settings_say(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url, tmp_path, tasks={"access": ["Kijk in het archief", "Bel de afdeling"]}
    )
    case = await open_case(sessions, settings, RequestKind.ACCESS)
    assert [t.title for t in await steps(sessions, case)] == [
        "Kijk in het archief",
        "Bel de afdeling",
    ]


async def test_a_triage_case_gets_its_checklist_once_staff_settle_the_kinds(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    case = await open_case(sessions, settings, RequestKind.ACCESS, confident=False)
    assert case.state == "triage"
    assert await steps(sessions, case) == []  # the classifier's guess makes no work yet
    async with sessions.begin() as s:
        row = await s.get(CaseRow, case.id)
        assert row is not None
        row.kinds, row.state = ["erasure"], "open"
        added = await tasks.ensure_checklist(s, row, settings, NOW)
    # The duty check, an erasure step in each of the five systems, telling the recipients.
    assert added == 7
    assert [t.kind for t in await steps(sessions, case)] == ["erasure"] * 7
    logged = [e for e in await events(sessions, case) if e.kind == "task_added"]
    assert [(e.actor, e.detail) for e in logged] == [
        ("system", {"checklist": ["erasure"], "steps": 7})
    ]


async def test_generating_again_adds_only_what_is_missing_and_removes_nothing(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    database_url: str,
    tmp_path: Path,
) -> None:
    case = await open_case(sessions, settings, RequestKind.ACCESS)
    first = (await steps(sessions, case))[0]
    async with sessions.begin() as s:
        task = await s.get(TaskRow, first.id)
        assert task is not None
        await tasks.set_done(s, task, True, SAM, NOW)
        extra = await s.get(CaseRow, case.id)
        assert extra is not None
        await tasks.add_task(s, extra, "Vraag de oude mailbox op bij IT", SAM, NOW)
        assert await tasks.ensure_checklist(s, extra, settings, NOW) == 0
    # Fewer steps in the settings, and a second kind: the new kind's steps come, none go.
    fewer = make_settings(database_url, tmp_path, tasks={"access": ["Alleen dit"]})
    async with sessions.begin() as s:
        row = await s.get(CaseRow, case.id)
        assert row is not None
        row.kinds = ["access", "objection"]
        assert await tasks.ensure_checklist(s, row, fewer, NOW) == 2
        assert await tasks.ensure_checklist(s, row, fewer, NOW) == 0
    found = await steps(sessions, case)
    access = len(
        settings.tasks.for_kind(
            "access", ["CRM", "Leeromgeving", "Mailbox", "Boekhouding", "Betaalprovider"]
        )
    )
    assert [t.key for t in found] == [
        *(f"access/{i}" for i in range(access)),
        "objection/0",
        "objection/1",
        f"added/{found[-1].position}",  # staff's own step stays last
    ]
    assert found[0].done_by == SAM and found[0].done_at is not None


async def test_a_step_is_ticked_off_and_on_again_and_each_change_is_logged(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    case = await open_case(sessions, settings, RequestKind.ACCESS)
    first = (await steps(sessions, case))[0]
    async with sessions.begin() as s:
        task = await s.get(TaskRow, first.id)
        assert task is not None
        assert await tasks.set_done(s, task, True, SAM, NOW)
        assert not await tasks.set_done(s, task, True, SAM, NOW)  # a form sent twice
    async with sessions.begin() as s:
        task = await s.get(TaskRow, first.id)
        assert task is not None
        assert (task.done_by, task.done_at) == (SAM, NOW.astimezone(UTC))
        assert await tasks.set_done(s, task, False, SARA, NOW)
    after = (await steps(sessions, case))[0]
    assert (after.done_at, after.done_by) == (None, None)
    logged = [
        (e.kind, e.actor, e.detail["task"])
        for e in await events(sessions, case)
        if e.kind.startswith("task_")
    ]
    assert ("task_done", SAM, first.id) in logged
    assert ("task_undone", SARA, first.id) in logged
    assert [k for k, _, _ in logged].count("task_done") == 1


async def test_the_assignee_is_mailed_the_step_the_dates_and_a_link_but_not_who_asked(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    case = await open_case(sessions, settings, RequestKind.ACCESS)
    sara = await add_staff(sessions, SARA)
    first = (await steps(sessions, case))[0]
    async with sessions.begin() as s:
        task = await s.get(TaskRow, first.id)
        assert task is not None
        assert await tasks.assign_task(s, task, sara, SAM, NOW, settings, Replies())
    async with sessions() as s:
        [mail] = list(await s.scalars(select(OutboxRow).where(OutboxRow.kind == "staff_task")))
    assert mail.recipient == SARA and mail.case_id == case.id
    assert case.reference in mail.subject
    assert first.title in mail.body
    assert f"https://console.example.nl/cases/{case.reference}" in mail.body
    assert "woensdag 2 december 2026" in mail.body and "vrijdag 4 december 2026" in mail.body
    assert "jan@example.nl" not in mail.body + mail.subject
    assert "Jansen" not in mail.body + mail.subject
    logged = [e for e in await events(sessions, case) if e.kind == "task_assigned"]
    assert [(e.actor, e.detail["assignee"]) for e in logged] == [(SAM, SARA)]
    assert (await steps(sessions, case))[0].assignee == SARA


async def test_taking_a_step_oneself_or_giving_it_to_nobody_sends_no_mail(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    case = await open_case(sessions, settings, RequestKind.ACCESS)
    sam = await add_staff(sessions, SAM)
    first = (await steps(sessions, case))[0]
    async with sessions.begin() as s:
        task = await s.get(TaskRow, first.id)
        assert task is not None
        assert await tasks.assign_task(s, task, sam, SAM, NOW, settings, Replies())
        assert not await tasks.assign_task(s, task, sam, SAM, NOW, settings, Replies())
        assert await tasks.assign_task(s, task, None, SAM, NOW, settings, Replies())
    async with sessions() as s:
        mails = list(await s.scalars(select(OutboxRow).where(OutboxRow.kind == "staff_task")))
    assert mails == []
    logged = [
        e.detail["assignee"] for e in await events(sessions, case) if e.kind == "task_assigned"
    ]
    assert logged == [SAM, None]


async def test_staff_add_a_step_of_their_own_after_the_checklist(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    case = await open_case(sessions, settings, RequestKind.OBJECTION)
    async with sessions.begin() as s:
        row = await s.get(CaseRow, case.id)
        assert row is not None
        await tasks.add_task(s, row, "  Controleer   de CRM-export  ", SAM, NOW)
        with pytest.raises(CaseworkError, match="needs a description"):
            await tasks.add_task(s, row, "   ", SAM, NOW)
    found = await steps(sessions, case)
    assert [t.kind for t in found] == ["objection", "objection", "added"]
    assert found[-1].title == "Controleer de CRM-export"
    logged = [e for e in await events(sessions, case) if e.kind == "task_added"]
    assert [(e.actor, e.detail["title"]) for e in logged] == [(SAM, "Controleer de CRM-export")]


async def test_the_staff_chat_hears_of_an_assignment_with_a_console_button(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        console={"public_url": "https://console.example.nl"},
        telegram={"token": "1:test", "staff_chat_id": -100777},
    )
    case = await open_case(sessions, settings, RequestKind.ACCESS)
    sara = await add_staff(sessions, SARA)
    first = (await steps(sessions, case))[0]
    async with sessions.begin() as s:
        task = await s.get(TaskRow, first.id)
        assert task is not None
        await tasks.assign_task(s, task, sara, SAM, NOW, settings, Replies())
    async with sessions() as s:
        [note] = list(await s.scalars(select(OutboxRow).where(OutboxRow.kind == "staff_chat_task")))
    assert (note.channel, note.recipient) == ("telegram", "-100777")
    assert note.body == (
        f'Taak bij {case.reference} voor {SARA}: "{first.title}". Toegewezen door {SAM}.'
    )
    assert note.buttons == [
        [{"text": "Open in console", "url": f"https://console.example.nl/cases/{case.reference}"}]
    ]

"""Staff actions on a case: the clock pause, notices drafted and approved by someone else."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.channels.mime import parse_mail
from dsr_bot.config import Settings
from dsr_bot.domain.cases import RequestKind
from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.nlp.classifier import Unclassified
from dsr_bot.replies import Replies
from dsr_bot.services import casework, identity
from dsr_bot.services.casework import Actor, CaseworkError
from dsr_bot.services.identity import IdentityDesk
from dsr_bot.services.pipeline import Pipeline
from dsr_bot.store.tables import (
    CaseEventRow,
    CaseRow,
    DraftRow,
    ErasureLedgerRow,
    MessageRow,
    OutboxRow,
)
from tests.conftest import FixedClassifier, make_settings, request_mail

RECEIVED = datetime(2026, 11, 4, 10, 0, tzinfo=AMSTERDAM)  # promise 2 Dec, legal 4 Dec 2026
ANNE, BOB = Actor("anne@example.nl"), Actor("bob@example.nl")
REF = "AVG-2026-0001"


@pytest.fixture
async def settings(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> Settings:
    settings = make_settings(database_url, tmp_path)
    pipeline = Pipeline(
        sessions=sessions,
        settings=settings,
        classifier=Unclassified(),
        replies=Replies(),
        clock=lambda: RECEIVED.astimezone(UTC),
    )
    raw = request_mail(sender="Jan Jansen <jan@example.nl>").as_bytes()
    await pipeline.ingest([parse_mail(raw, source="info", external_id="1:1", received_at=RECEIVED)])
    return settings


def at(day: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, 10, 0, tzinfo=AMSTERDAM)


async def _case(sessions: async_sessionmaker[AsyncSession]) -> CaseRow:
    async with sessions() as session:
        case: CaseRow | None = await session.scalar(select(CaseRow))
        assert case is not None
        return case


async def test_a_pause_moves_the_due_dates_by_the_days_it_lasted(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    async with sessions.begin() as s:
        await casework.pause(s, REF, ANNE, at(10), settings)
    async with sessions.begin() as s:
        await casework.resume(s, REF, ANNE, at(17), settings)
    case = await _case(sessions)
    # 7 days paused: promise Wed 2 Dec -> Wed 9 Dec; legal Fri 4 Dec -> Fri 11 Dec.
    assert (case.promise_due, case.legal_due) == (date(2026, 12, 9), date(2026, 12, 11))
    assert case.paused_days == 7 and case.paused_since is None
    async with sessions() as s:
        events = [(e.kind, e.actor) for e in await s.scalars(select(CaseEventRow))]
    assert ("clock_paused", ANNE.who) in events and ("clock_resumed", ANNE.who) in events


async def test_an_extension_is_drafted_approved_by_someone_else_and_moves_the_deadline(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    async with sessions.begin() as s:
        draft = await casework.draft_notice(
            s,
            REF,
            "extension_notice",
            "Wij zoeken in vier systemen.",
            ANNE,
            at(20),
            settings,
            Replies(),
        )
    assert "Wij zoeken in vier systemen." in draft.body
    assert "4 februari 2027" in draft.body  # three months from receipt
    with pytest.raises(CaseworkError, match="four eyes"):
        async with sessions.begin() as s:
            await casework.approve(s, draft.id, ANNE, at(20), settings)
    async with sessions.begin() as s:
        await casework.approve(s, draft.id, BOB, at(20), settings)
    case = await _case(sessions)
    assert case.extension_sent_at is not None and case.extended_due == date(2027, 2, 4)
    async with sessions() as s:
        sent = list(await s.scalars(select(OutboxRow).where(OutboxRow.kind == "extension_notice")))
    assert [o.recipient for o in sent] == ["jan@example.nl"]


async def test_no_extension_after_the_first_month(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    with pytest.raises(CaseworkError, match="first month ended on 2026-12-04"):
        async with sessions.begin() as s:
            await casework.draft_notice(
                s, REF, "extension_notice", "te laat", ANNE, at(7, 12), settings, Replies()
            )


async def test_an_approved_refusal_notice_closes_the_case(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    async with sessions.begin() as s:
        draft = await casework.draft_notice(
            s,
            REF,
            "refusal_notice",
            "Wij hebben geen gegevens van u.",
            ANNE,
            at(20),
            settings,
            Replies(),
        )
    assert "Postbus 93374" in draft.body
    async with sessions.begin() as s:
        await casework.approve(s, draft.id, BOB, at(21), settings)
    case = await _case(sessions)
    assert (case.state, case.decision) == ("closed", "refused")


async def test_closing_needs_a_known_decision_and_happens_once(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    with pytest.raises(CaseworkError, match="decision must be one of"):
        async with sessions.begin() as s:
            await casework.close(s, REF, "done", ANNE, at(20))
    # Unclassified, so nobody has decided on identity yet: no answer before that.
    with pytest.raises(CaseworkError, match="identity is undecided"):
        async with sessions.begin() as s:
            await casework.close(s, REF, "answered", ANNE, at(20))
    desk = IdentityDesk.from_settings(settings, Replies())
    async with sessions.begin() as s:
        await identity.waive(
            s, desk, REF, "known customer, wrote from her own address", BOB.who, at(20)
        )
        await casework.close(s, REF, "answered", ANNE, at(20))
    with pytest.raises(CaseworkError, match="closed already"):
        async with sessions.begin() as s:
            await casework.close(s, REF, "answered", ANNE, at(21))


async def test_a_complaint_gets_an_acknowledgement_drafted_for_approval(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    pipeline = Pipeline(
        sessions=sessions,
        settings=settings,
        classifier=FixedClassifier(RequestKind.COMPLAINT),
        replies=Replies(),
        clock=lambda: RECEIVED.astimezone(UTC),
    )
    raw = request_mail(body="Mijn gegevens zijn naar de hele klas gestuurd!").as_bytes()
    await pipeline.ingest([parse_mail(raw, source="info", external_id="1:1", received_at=RECEIVED)])
    async with sessions() as s:
        [draft] = await casework.list_drafts(s)
    assert draft.kind == "complaint_acknowledgement"
    assert "Autoriteit Persoonsgegevens" in draft.body and "2 december 2026" in draft.body
    async with sessions.begin() as s:
        await casework.approve(s, draft.id, BOB, at(5), settings)
    async with sessions() as s:
        kinds = list(await s.scalars(select(OutboxRow.kind)))
    assert "complaint_acknowledgement" in kinds


async def test_closing_as_erased_records_hashes_and_scrubs_the_bots_own_copies(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    desk = IdentityDesk.from_settings(settings, Replies())
    async with sessions.begin() as s:
        await identity.verify(s, desk, REF, "passport", BOB.who, at(19))
        await casework.close(s, REF, "erased", ANNE, at(20), ledger_key=b"k" * 32)
    case = await _case(sessions)
    assert (case.state, case.decision, case.reference) == ("closed", "erased", REF)
    assert case.requester.startswith("erased:") and "jan@example.nl" not in case.requester
    async with sessions() as s:
        ledger = list(await s.scalars(select(ErasureLedgerRow)))
        bodies = list(await s.scalars(select(MessageRow.body)))
    assert [row.kind for row in ledger] == ["email"]
    assert all("jan@example.nl" not in row.digest for row in ledger)
    assert bodies == ["[gewist]"]


CAROL = Actor("carol@example.nl")


async def test_without_four_eyes_a_writer_sends_a_notice_but_never_their_own_refusal(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    database_url: str,
    tmp_path: Path,
) -> None:
    relaxed = make_settings(database_url, tmp_path, console={"four_eyes": False})
    async with sessions.begin() as s:
        extension = await casework.draft_notice(
            s, REF, "extension_notice", "Vier systemen.", ANNE, at(20), relaxed, Replies()
        )
        refusal = await casework.draft_notice(
            s, REF, "refusal_notice", "Geen gegevens.", ANNE, at(20), relaxed, Replies()
        )
    async with sessions.begin() as s:
        await casework.approve(s, extension.id, ANNE, at(20), relaxed)
    with pytest.raises(CaseworkError, match="four eyes"):
        async with sessions.begin() as s:
            await casework.approve(s, refusal.id, ANNE, at(20), relaxed)
    async with sessions() as s:
        kinds = list(
            await s.scalars(select(OutboxRow.kind).where(OutboxRow.kind != "acknowledgement"))
        )
    assert kinds == ["extension_notice"]


async def test_the_last_editor_of_a_draft_does_not_approve_it_either(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    async with sessions.begin() as s:
        draft = await casework.draft_notice(
            s, REF, "extension_notice", "Vier systemen.", ANNE, at(20), settings, Replies()
        )
    async with sessions.begin() as s:
        assert not await casework.edit_draft(s, draft.id, draft.subject, draft.body, BOB, at(20))
        assert await casework.edit_draft(
            s, draft.id, draft.subject, draft.body + "\r\nNog een zin.  ", BOB, at(20)
        )
    with pytest.raises(CaseworkError, match="four eyes: someone other than who edited"):
        async with sessions.begin() as s:
            await casework.approve(s, draft.id, BOB, at(20), settings)
    async with sessions.begin() as s:
        sent = await casework.approve(s, draft.id, CAROL, at(20), settings)
    assert sent.body.endswith("\nNog een zin.\n") and sent.edited_by == BOB.who
    async with sessions() as s:
        logged = [
            (e.kind, e.actor)
            for e in await s.scalars(select(CaseEventRow).order_by(CaseEventRow.id))
            if e.kind.startswith("draft")
        ]
        [mail] = list(
            await s.scalars(select(OutboxRow).where(OutboxRow.kind == "extension_notice"))
        )
    assert logged == [
        ("drafted", ANNE.who),
        ("draft_edited", BOB.who),
        ("draft_approved", CAROL.who),
    ]
    assert mail.body == sent.body


async def test_a_rejected_draft_keeps_its_reason_and_is_never_sent(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    async with sessions.begin() as s:
        draft = await casework.draft_answer(
            s, REF, "Hier is uw overzicht.", ANNE, at(20), settings, Replies()
        )
    assert draft.kind == "answer" and "Hier is uw overzicht." in draft.body
    assert draft.detail == {}  # the text is the body; not kept twice
    with pytest.raises(CaseworkError, match="give the reason"):
        async with sessions.begin() as s:
            await casework.reject_draft(s, draft.id, "  ", BOB, at(21))
    async with sessions.begin() as s:
        await casework.reject_draft(s, draft.id, "Noem de bewaartermijn.", BOB, at(21))
    for attempt in (
        lambda s: casework.approve(s, draft.id, CAROL, at(21), settings),
        lambda s: casework.edit_draft(s, draft.id, "x", "y", ANNE, at(21)),
    ):
        with pytest.raises(CaseworkError, match="was rejected already"):
            async with sessions.begin() as s:
                await attempt(s)
    async with sessions() as s:
        row = await s.get(DraftRow, draft.id)
        answers = list(await s.scalars(select(OutboxRow).where(OutboxRow.kind == "answer")))
    assert row is not None and (row.status, row.reject_reason) == (
        "rejected",
        "Noem de bewaartermijn.",
    )
    assert answers == []

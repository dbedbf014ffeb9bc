"""Staff draft the replies of each step (access, erasure, clarification...) from their templates;
like every draft, they reach the person only once someone else approves them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.channels.mime import parse_mail
from dsr_bot.config import Settings
from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.nlp.classifier import Unclassified
from dsr_bot.replies import Replies
from dsr_bot.services import casework
from dsr_bot.services.casework import Actor, CaseworkError
from dsr_bot.services.pipeline import Pipeline
from dsr_bot.store.tables import CaseEventRow, CaseRow, DraftRow, OutboxRow
from tests.conftest import make_settings, request_mail

RECEIVED = datetime(2026, 11, 4, 10, 0, tzinfo=AMSTERDAM)  # promise Wed 2 Dec 2026
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=AMSTERDAM)
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


async def _set(sessions: async_sessionmaker[AsyncSession], **values: object) -> None:
    async with sessions.begin() as s:
        case = await casework.case_by_reference(s, REF)
        for name, value in values.items():
            setattr(case, name, value)


async def _draft(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, kind: str, **fields: object
) -> DraftRow:
    async with sessions.begin() as s:
        return await casework.draft_reply(
            s,
            REF,
            kind,
            ANNE,
            NOW,
            settings,
            Replies(),
            **fields,  # type: ignore[arg-type]
        )


@pytest.mark.parametrize(
    ("kind", "fields", "subject", "in_body"),
    [
        (
            "access_reply",
            {"text": "Wij zochten in het CRM."},
            "Uw gegevens: antwoord op uw verzoek om inzage [AVG-2026-0001]",
            ["Wij zochten in het CRM.", "Meestal is dat 2 jaar.", "- Google: voor Google"],
        ),
        (
            "rectification_done",
            {"text": "Uw achternaam is nu Jansen-de Vries."},
            "Wij hebben uw gegevens aangepast [AVG-2026-0001]",
            ["Uw achternaam is nu Jansen-de Vries.", "(AVG, artikel 19)"],
        ),
        (
            "erasure_done",
            {"text": "Uw facturen bewaren wij nog 7 jaar (fiscale bewaarplicht)."},
            "Wij hebben uw gegevens gewist [AVG-2026-0001]",
            ["Wat bewaren wij nog, en waarom?\nUw facturen bewaren wij nog 7 jaar"],
        ),
        (
            "restriction_applied",
            {},
            "Wij gebruiken uw gegevens voorlopig niet meer [AVG-2026-0001]",
            ["eerst weten", "(AVG, artikel 19)"],
        ),
        (
            "restriction_lifting",
            {"text": "Uw adres klopt.", "lift_on": date(2026, 12, 7)},
            "Wij gaan uw gegevens weer gebruiken vanaf maandag 7 december 2026 [AVG-2026-0001]",
            ["Waarom?\nUw adres klopt.", "artikel 18 lid 3"],
        ),
        (
            "portability_reply",
            {},
            "Uw gegevens in een bestand [AVG-2026-0001]",
            ["zip-bestand", "JSON", "CSV", "schema"],
        ),
        (
            "objection_confirmed",
            {"unsubscribed": True},
            "Wij hebben uw bezwaar verwerkt [AVG-2026-0001]",
            ["Wij hebben u daarvoor afgemeld."],
        ),
        (
            "clarification",
            {"text": "Over welke opleiding gaat het?"},
            "Een vraag over uw verzoek [AVG-2026-0001]",
            ["\n\nOver welke opleiding gaat het?\n\n"],
        ),
    ],
)
async def test_each_reply_is_drafted_from_its_template(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    kind: str,
    fields: dict[str, object],
    subject: str,
    in_body: list[str],
) -> None:
    draft = await _draft(sessions, settings, kind, **fields)
    assert (draft.kind, draft.status, draft.created_by) == (kind, "draft", ANNE.who)
    assert draft.subject == subject
    assert draft.body.startswith("Beste Jan Jansen,\n\n")
    for words in in_body:
        assert words in draft.body
    async with sessions() as s:
        events = [(e.kind, e.detail) for e in await s.scalars(select(CaseEventRow))]
        sent = list(await s.scalars(select(OutboxRow).where(OutboxRow.kind == kind)))
    assert ("drafted", {"draft": draft.id, "notice": kind}) in events
    assert sent == []  # nothing goes out before approval


async def test_a_reply_to_someone_who_wrote_in_english_is_in_english(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _set(sessions, language="en")
    draft = await _draft(sessions, settings, "erasure_done")
    assert draft.subject == "We have erased your data [AVG-2026-0001]"
    assert "We have erased all your personal data." in draft.body


@pytest.mark.parametrize(
    ("kind", "fields", "code"),
    [
        ("rectification_done", {}, "text"),
        ("clarification", {"text": "  "}, "text"),
        ("restriction_lifting", {"text": "Het klopt."}, "lift_on"),
        ("restriction_lifting", {"text": "Het klopt.", "lift_on": date(2026, 11, 20)}, "lift_on"),
        ("objection_confirmed", {}, "objection"),
        ("identity_verified", {}, "not_verified"),
    ],
)
async def test_a_reply_without_what_it_needs_is_refused(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    kind: str,
    fields: dict[str, object],
    code: str,
) -> None:
    with pytest.raises(CaseworkError) as refused:
        await _draft(sessions, settings, kind, **fields)
    assert refused.value.code == code
    async with sessions() as s:
        assert list(await s.scalars(select(DraftRow))) == []


async def test_identity_verified_follows_a_verification_and_names_the_due_date(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _set(sessions, identity_state="verified")
    draft = await _draft(sessions, settings, "identity_verified")
    assert draft.subject == "Wij weten nu dat het verzoek van u komt [AVG-2026-0001]"
    assert "uiterlijk op woensdag 2 december 2026" in draft.body


async def test_a_substantive_reply_waits_for_identity_but_a_question_does_not(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    done = await _draft(sessions, settings, "rectification_done", text="Uw adres is aangepast.")
    question = await _draft(sessions, settings, "clarification", text="Welk adres bedoelt u?")
    with pytest.raises(CaseworkError) as refused:
        async with sessions.begin() as s:
            await casework.approve(s, done.id, BOB, NOW, settings)
    assert refused.value.code == "identity"
    async with sessions.begin() as s:
        await casework.approve(s, question.id, BOB, NOW, settings)
    await _set(sessions, identity_state="verified")
    async with sessions.begin() as s:
        await casework.approve(s, done.id, BOB, NOW, settings)
    async with sessions() as s:
        sent = {o.kind: o for o in await s.scalars(select(OutboxRow))}
        case = await s.scalar(select(CaseRow))
    assert sent["rectification_done"].subject == done.subject
    assert sent["rectification_done"].body == done.body
    assert sent["clarification"].recipient == "jan@example.nl"
    assert case is not None and case.state != "closed"  # closing stays a decision of its own

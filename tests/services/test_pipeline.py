"""The pipeline on SQLite and PostgreSQL: cases, replies, dedupe, hygiene, rate limits, masking."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.channels.mime import parse_mail
from dsr_bot.domain.cases import RequestKind
from dsr_bot.domain.inbound import Channel, InboundMessage, Quarantined
from dsr_bot.domain.workflow import Route
from dsr_bot.nlp.classifier import Classification, Unclassified
from dsr_bot.replies import Replies
from dsr_bot.services.pipeline import MailboxCursor, Pipeline
from dsr_bot.store import queries
from dsr_bot.store.tables import CaseEventRow, CaseRow, MailboxStateRow, MessageRow, OutboxRow
from tests.conftest import FixedClassifier, make_settings, request_mail, trained_classifier

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
_ids = itertools.count(1)


def _item(msg: EmailMessage, source: str = "info") -> InboundMessage:
    return parse_mail(msg.as_bytes(), source=source, external_id=f"1:{next(_ids)}", received_at=NOW)


@pytest.fixture
def pipeline(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> Pipeline:
    return Pipeline(
        sessions=sessions,
        settings=make_settings(database_url, tmp_path),
        classifier=Unclassified(),
        replies=Replies(),
        clock=lambda: NOW,
    )


async def _count(sessions: async_sessionmaker[AsyncSession], table: type[object]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def _outbox(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxRow]:
    async with sessions() as session:
        return list(await session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


async def test_a_request_opens_a_case_for_triage_and_queues_an_acknowledgement(
    pipeline: Pipeline, sessions: async_sessionmaker[AsyncSession]
) -> None:
    mail = request_mail(message_id="<first@example.nl>")
    [outcome] = await pipeline.ingest([_item(mail)])
    assert outcome.route is Route.NEW_CASE
    assert outcome.reference == "AVG-2026-0001"
    async with sessions() as session:
        detail = await queries.case_detail(session, "AVG-2026-0001")
    assert detail.case.state == "triage" and detail.case.kinds == []
    assert detail.case.requester == "jan@example.nl"
    assert [e.kind for e in detail.events] == ["opened", "classified", "acknowledgement_queued"]
    [ack] = detail.outbox
    assert ack.recipient == "jan@example.nl"
    assert ack.in_reply_to == "<first@example.nl>"
    assert ack.references == ["<first@example.nl>"]
    assert ack.auto_submitted == "auto-replied"
    assert "[AVG-2026-0001]" in ack.subject
    assert "AVG-2026-0001" in ack.body
    assert "woensdag 23 december 2026" in ack.body  # four weeks, the organisation's promise


async def test_the_same_message_twice_makes_one_case(
    pipeline: Pipeline, sessions: async_sessionmaker[AsyncSession]
) -> None:
    mail = request_mail(message_id="<same@example.nl>")
    outcomes = await pipeline.ingest([_item(mail), _item(mail)])
    later = await pipeline.ingest([_item(mail, source="other-mailbox")])
    assert [o.route for o in outcomes + later] == [Route.NEW_CASE, None, None]
    assert await _count(sessions, CaseRow) == 1
    assert await _count(sessions, MessageRow) == 1


async def test_replies_land_on_their_case_by_reference_or_by_message_id(
    pipeline: Pipeline, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [opened] = await pipeline.ingest([_item(request_mail())])
    ack = (await _outbox(sessions))[0]
    by_subject = request_mail(subject=f"Re: Wij hebben uw bericht ontvangen [{opened.reference}]")
    by_header = request_mail(subject="nog een vraag", headers={"In-Reply-To": ack.message_id})
    outcomes = await pipeline.ingest([_item(by_subject), _item(by_header)])
    assert [(o.route, o.reference) for o in outcomes] == [
        (Route.ADDED_TO_CASE, opened.reference),
        (Route.ADDED_TO_CASE, opened.reference),
    ]
    assert await _count(sessions, CaseRow) == 1
    assert len(await _outbox(sessions)) == 1  # no acknowledgement of a reply
    async with sessions() as session:
        detail = await queries.case_detail(session, str(opened.reference))
    assert [e.kind for e in detail.events].count("message_received") == 2
    assert len(detail.messages) == 3


async def test_an_unknown_reference_opens_a_new_case(pipeline: Pipeline) -> None:
    [outcome] = await pipeline.ingest([_item(request_mail(subject="Re: [AVG-2019-0001]"))])
    assert outcome.route is Route.NEW_CASE


@pytest.mark.parametrize(
    ("sender", "headers"),
    [
        ("jan@example.nl", {"Auto-Submitted": "auto-replied"}),
        ("jan@example.nl", {"Precedence": "bulk"}),
        ("news@example.nl", {"List-Id": "<nieuws.example.nl>"}),
        ("MAILER-DAEMON@mx.example.nl", {}),
        ("info@academiewerkendleren.nl", {}),
    ],
)
async def test_automatic_mail_is_kept_but_never_answered(
    pipeline: Pipeline,
    sessions: async_sessionmaker[AsyncSession],
    sender: str,
    headers: dict[str, str],
) -> None:
    [outcome] = await pipeline.ingest([_item(request_mail(sender=sender, headers=headers))])
    assert outcome.route is Route.IGNORED
    assert await _outbox(sessions) == []
    async with sessions() as session:
        [stored] = await session.scalars(select(MessageRow))
    assert stored.route == "ignored" and stored.reason


async def test_an_out_of_office_reply_is_added_to_its_case_without_an_answer(
    pipeline: Pipeline, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [opened] = await pipeline.ingest([_item(request_mail())])
    ooo = request_mail(
        subject=f"Automatisch antwoord: [{opened.reference}]",
        headers={"Auto-Submitted": "auto-replied"},
    )
    [outcome] = await pipeline.ingest([_item(ooo)])
    assert (outcome.route, outcome.acknowledged) == (Route.ADDED_TO_CASE, False)
    assert len(await _outbox(sessions)) == 1


async def test_acknowledgements_to_one_sender_are_rate_limited(
    pipeline: Pipeline, sessions: async_sessionmaker[AsyncSession]
) -> None:
    outcomes = await pipeline.ingest([_item(request_mail()) for _ in range(5)])
    assert [o.acknowledged for o in outcomes] == [True, True, True, False, False]
    assert len({o.reference for o in outcomes}) == 5  # every message still becomes a case
    async with sessions() as session:
        suppressed = await session.scalar(
            select(func.count()).where(CaseEventRow.kind == "acknowledgement_suppressed")
        )
    assert suppressed == 2
    [other] = await pipeline.ingest([_item(request_mail(sender="piet@example.nl"))])
    assert other.acknowledged


async def test_bsns_are_masked_before_anything_is_stored(
    pipeline: Pipeline, sessions: async_sessionmaker[AsyncSession]
) -> None:
    mail = request_mail(
        sender="Jan 111222333 <jan@example.nl>",
        subject="Verwijder BSN 123456782",
        body="Mijn BSN is 1234.56.782 en mijn IBAN NL91ABNA0417164300.",
    )
    await pipeline.ingest([_item(mail)])
    async with sessions() as session:
        [message] = await session.scalars(select(MessageRow))
        [case] = await session.scalars(select(CaseRow))
    for text in (message.subject, message.body, message.sender_name, case.subject):
        assert text is not None
        assert "123456782" not in text and "1234.56.782" not in text and "111222333" not in text
        assert "[BSN verwijderd]" in text
    assert "NL91ABNA0417164300" in message.body


async def test_english_mail_gets_an_english_acknowledgement(
    pipeline: Pipeline, sessions: async_sessionmaker[AsyncSession]
) -> None:
    mail = request_mail(
        subject="Data access request",
        body="Dear team, I would like to receive a copy of all the data that you have about me.",
    )
    await pipeline.ingest([_item(mail)])
    [ack] = await _outbox(sessions)
    assert ack.language == "en"
    assert ack.subject.startswith("We have received your message")
    assert "Wednesday 23 December 2026" in ack.body


async def test_unreadable_messages_are_quarantined_and_the_batch_goes_on(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    pipeline = Pipeline(
        sessions=sessions,
        settings=make_settings(database_url, tmp_path),
        classifier=Unclassified(),
        replies=Replies(),
        clock=lambda: NOW,
    )
    unreadable = Quarantined(
        channel=Channel.EMAIL,
        source="info",
        external_id="1:900",
        received_at=NOW,
        reason="no sender address",
        subject="BSN 123456782",
    )
    outcomes = await pipeline.ingest(
        [unreadable, _item(request_mail())], MailboxCursor("info", 7, 42)
    )
    assert [o.route for o in outcomes] == [Route.QUARANTINED, Route.NEW_CASE]
    async with sessions() as session:
        rows = list(await session.scalars(select(MessageRow).order_by(MessageRow.id)))
        cursor = await session.get(MailboxStateRow, "info")
    assert rows[0].reason == "no sender address"
    assert rows[0].subject == "BSN [BSN verwijderd]"
    assert cursor is not None and (cursor.uidvalidity, cursor.last_uid) == (7, 42)


class Exploding(FixedClassifier):
    """Fails on any batch holding a message about "boom"; labels the rest as access."""

    async def classify(self, messages: Sequence[tuple[str, str]]) -> list[Classification]:
        for subject, text in messages:
            if "boom" in subject:
                raise ValueError(f"cannot classify {text!r}")  # an error that quotes its input
        return await super().classify(messages)


async def test_a_classifier_failure_leaves_that_case_to_triage_and_loses_nothing(
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pipeline = Pipeline(
        sessions=sessions,
        settings=make_settings(database_url, tmp_path),
        classifier=Exploding(RequestKind.ACCESS),
        replies=Replies(),
        clock=lambda: NOW,
    )
    outcomes = await pipeline.ingest(
        [
            _item(request_mail(subject="boom", body="geheim verhaal over mijn ziekte")),
            _item(request_mail(sender="b@example.org")),
        ]
    )
    assert [o.route for o in outcomes] == [Route.NEW_CASE, Route.NEW_CASE]
    assert all(o.acknowledged for o in outcomes)
    async with sessions() as session:
        cases = list(await session.scalars(select(CaseRow).order_by(CaseRow.id)))
    assert [(c.state, c.kinds, c.classified_by) for c in cases] == [
        ("triage", [], "failed"),
        ("open", ["access"], "test"),
    ]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "could not be handled: ValueError" in logged
    assert "geheim" not in logged


async def test_a_value_the_database_refuses_quarantines_that_message_only(
    pipeline: Pipeline, sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite accepts any length; PostgreSQL enforces the column sizes")
    refused = dataclasses.replace(_item(request_mail()), external_id="x" * 300)
    outcomes = await pipeline.ingest([_item(request_mail()), refused, _item(request_mail())])
    assert [o.route for o in outcomes] == [Route.NEW_CASE, Route.QUARANTINED, Route.NEW_CASE]
    async with sessions() as session:
        reasons = list(await session.scalars(select(MessageRow.reason).order_by(MessageRow.id)))
    assert reasons[1] == "the database refused to store it (SQLSTATE 22001)"  # value too long
    assert await _count(sessions, CaseRow) == 2


async def test_nul_bytes_are_dropped_so_every_database_stores_the_text(
    pipeline: Pipeline, sessions: async_sessionmaker[AsyncSession]
) -> None:
    msg = dataclasses.replace(_item(request_mail()), text="Ik wil\x00 inzage", subject="a\x00b")
    [outcome] = await pipeline.ingest([msg])
    assert outcome.route is Route.NEW_CASE
    async with sessions() as session:
        [stored] = await session.scalars(select(MessageRow))
    assert (stored.body, stored.subject) == ("Ik wil inzage", "ab")


async def test_the_trained_classifier_labels_the_case_and_keeps_its_scores(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    pipeline = Pipeline(
        sessions=sessions,
        settings=settings,
        classifier=trained_classifier(settings.classifier.model_path),
        replies=Replies(),
        clock=lambda: NOW,
    )
    body = "Ik wil graag inzage in alle persoonsgegevens die u van mij verwerkt."
    await pipeline.ingest([_item(request_mail(subject="Verzoek", body=body))])
    async with sessions() as session:
        case = await session.scalar(select(CaseRow))
        events = list(await session.scalars(select(CaseEventRow)))
    assert case is not None
    assert (case.kinds, case.state) == (["access"], "open")
    assert case.scores is not None and case.scores["access"] > 0.7
    assert set(case.scores) == {k.value for k in RequestKind}
    classified = next(e for e in events if e.kind == "classified")
    assert classified.detail["model"] == case.classified_by
    assert classified.detail["kinds"] == ["access"]


async def test_an_unsure_classification_goes_to_triage_with_its_guess_kept(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    pipeline = Pipeline(
        sessions=sessions,
        settings=make_settings(database_url, tmp_path),
        classifier=FixedClassifier(RequestKind.OBJECTION, score=0.55, confident=False),
        replies=Replies(),
        clock=lambda: NOW,
    )
    await pipeline.ingest([_item(request_mail(body="hmm, stop"))])
    async with sessions() as session:
        case = await session.scalar(select(CaseRow))
    assert case is not None
    assert (case.state, case.kinds, case.confidence) == ("triage", ["objection"], 0.55)

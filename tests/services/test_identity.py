"""Identity end to end, below the CLI: ask, receive, check, decide, delete; remind and lapse.

Real pieces throughout: the pipeline takes a reply with an ID-card image (drawn by
tests/identity/cards.py) as the mail channel parses it, the worker runs the real OCR and face
check, and the vault writes real files, which the tests look for on disk afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import smtplib
import stat
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.channels.mime import parse_mail
from dsr_bot.config import Settings
from dsr_bot.domain.cases import RequestKind
from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.identity.id_check import CheckResult
from dsr_bot.identity.vault import Vault, VaultError
from dsr_bot.replies import Replies
from dsr_bot.services import casework, identity
from dsr_bot.services.casework import Actor, CaseworkError
from dsr_bot.services.identity import IdentityDesk
from dsr_bot.services.identity_sweep import IdentityWorker
from dsr_bot.services.pipeline import Pipeline
from dsr_bot.store.tables import CaseEventRow, CaseRow, DraftRow, IdCopyRow, OutboxRow
from tests.conftest import (
    FixedClassifier,
    eventually,
    make_settings,
    outbox_mail,
    request_mail,
    running_bot,
)
from tests.identity.cards import FIELDS, Field, Transform, draw_card, encode, random_person

RECEIVED = datetime(2026, 11, 4, 10, 0, tzinfo=AMSTERDAM)
REF = "AVG-2026-0001"
ANNE, BOB = Actor("anne@example.nl"), Actor("bob@example.nl")
PERSON = random_person(random.Random(5), "TD1")
_ids = iter(range(1, 10_000))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Desk:
    """The pieces a test drives: pipeline, worker and desk sharing one clock."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        kind: RequestKind,
        **desk_args: Any,
    ) -> None:
        self.clock = Clock(RECEIVED)
        self.settings = settings
        self.desk = IdentityDesk.from_settings(settings, Replies())
        for name, value in desk_args.items():
            setattr(self.desk, name, value)
        self.pipeline = Pipeline(
            sessions=sessions,
            settings=settings,
            classifier=FixedClassifier(kind),
            replies=Replies(),
            clock=self.clock,
            identity=self.desk,
        )
        self.worker = IdentityWorker(sessions=sessions, desk=self.desk, clock=self.clock)

    async def mail(self, msg: EmailMessage, at: datetime | None = None) -> None:
        when = at or self.clock.now
        self.clock.now = when
        item = parse_mail(
            msg.as_bytes(), source="info", external_id=f"1:{next(_ids)}", received_at=when
        )
        await self.pipeline.ingest([item])


def card(hidden: Sequence[Field]) -> bytes:
    return encode(draw_card(PERSON, hidden), Transform("plain"))


def reply(
    *,
    body: str = "Hierbij mijn kopie.",
    image: bytes | None = None,
    sender: str = "Jan Jansen <jan@example.nl>",
    subject: str = f"Re: Uw verzoek {REF}",
) -> EmailMessage:
    msg = request_mail(sender=sender, subject=subject, body=body)
    if image is not None:
        msg.add_attachment(image, maintype="image", subtype="png", filename="id.png")
    return msg


def files(settings: Settings) -> list[Path]:
    root = settings.identity.storage_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


async def _case(sessions: async_sessionmaker[AsyncSession], reference: str = REF) -> CaseRow:
    async with sessions() as s:
        case = await s.scalar(select(CaseRow).where(CaseRow.reference == reference))
        assert case is not None
        return case


async def _outbox(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxRow]:
    async with sessions() as s:
        return list(await s.scalars(select(OutboxRow).order_by(OutboxRow.id)))


async def _events(sessions: async_sessionmaker[AsyncSession]) -> list[CaseEventRow]:
    async with sessions() as s:
        return list(await s.scalars(select(CaseEventRow).order_by(CaseEventRow.id)))


async def _copies(sessions: async_sessionmaker[AsyncSession]) -> list[IdCopyRow]:
    async with sessions() as s:
        return list(await s.scalars(select(IdCopyRow).order_by(IdCopyRow.id)))


async def _database_text(sessions: async_sessionmaker[AsyncSession]) -> str:
    """Every stored value of every table, as one string, to search for what must not be kept."""
    out = []
    async with sessions() as s:
        for table in (
            "cases",
            "messages",
            "case_events",
            "outbox",
            "drafts",
            "id_copies",
            "notices",
        ):
            rows = await s.execute(text(f"SELECT * FROM {table}"))
            out += [repr(tuple(row)) for row in rows]
    return "\n".join(out)


async def test_an_access_request_asks_for_a_shielded_copy_and_stops_the_clock(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    bot = Desk(sessions, settings, RequestKind.ACCESS)
    await bot.mail(request_mail())
    case = await _case(sessions)
    assert case.identity_state == "copy_requested" and case.identity_policy == "always"
    assert case.paused_since == RECEIVED.date()
    [ack] = await _outbox(sessions)
    for words in ("pasfoto", "MRZ", "documentnummer", "burgerservicenummer", "KopieID"):
        assert words in ack.body
    assert "verwijderen wij de kopie" in ack.body


async def test_an_unshielded_copy_is_deleted_at_once_and_a_new_one_is_asked_for(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="dsr_bot")
    bot = Desk(sessions, settings, RequestKind.ACCESS)
    await bot.mail(request_mail())
    # The photo is covered; MRZ, document number and BSN still show.
    await bot.mail(reply(image=card(["photo"])), at=RECEIVED + timedelta(days=2))
    [stored] = files(settings)
    assert stored.stat().st_mode & 0o777 == 0o600
    assert stat.S_IMODE(settings.identity.storage_dir.stat().st_mode) == 0o700
    assert b"\x89PNG" not in stored.read_bytes()  # encrypted at rest

    assert await bot.worker.check_pending() == 1
    assert files(settings) == []
    [copy] = await _copies(sessions)
    assert (copy.status, copy.outcome, copy.deleted_reason) == (
        "deleted",
        "unshielded",
        "unshielded",
    )
    assert copy.findings and set(copy.findings) <= {"mrz", "document_number", "bsn"}
    case = await _case(sessions)
    assert case.identity_state == "copy_requested" and case.paused_since is not None
    mails = await _outbox(sessions)
    assert [m.kind for m in mails] == ["acknowledgement", "id_copy_unshielded"]
    assert "documentnummer" in mails[1].body and "pasfoto" not in mails[1].body.split("zwart")[0]
    refused = [e for e in await _events(sessions) if e.kind == "identity_copy_refused"]
    assert refused[0].detail["fields"] == copy.findings
    # No number from the card reached the database or the log.
    stored_text = await _database_text(sessions)
    for secret in (PERSON.bsn, PERSON.document_number, *PERSON.mrz()):
        assert secret not in stored_text
        assert secret not in caplog.text


async def test_a_shielded_copy_waits_for_staff_who_verify_and_it_is_gone(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    bot = Desk(sessions, settings, RequestKind.ACCESS)
    await bot.mail(request_mail())
    bot.clock.now = RECEIVED + timedelta(days=3)
    await bot.mail(reply(image=card(FIELDS)))
    await bot.worker.check_pending()
    [copy] = await _copies(sessions)
    assert (copy.status, copy.outcome) == ("review", "accepted")
    case = await _case(sessions)
    # The clock ran again from the day the copy came: three days later on both deadlines.
    assert case.identity_state == "copy_received" and case.paused_days == 3
    assert case.paused_since is None
    with pytest.raises(CaseworkError, match="identity is copy_received"):
        async with sessions.begin() as s:
            await casework.close(s, REF, "answered", ANNE, bot.clock.now)

    async with sessions.begin() as s:
        _, data = await identity.view_copy(s, bot.desk, REF, BOB.who, bot.clock.now)
    assert data == card(FIELDS)
    async with sessions.begin() as s:
        await identity.verify(s, bot.desk, REF, "id_card", BOB.who, bot.clock.now)
    assert files(settings) == []
    [copy] = await _copies(sessions)
    assert (copy.status, copy.deleted_reason) == ("deleted", "verified")
    verified = [e for e in await _events(sessions) if e.kind == "identity_verified"]
    assert [(e.actor, e.detail["document"]) for e in verified] == [(BOB.who, "id_card")]
    async with sessions.begin() as s:
        await casework.close(s, REF, "answered", ANNE, bot.clock.now)


async def test_no_copy_outlives_the_maximum_period(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    bot = Desk(sessions, settings, RequestKind.ERASURE)
    await bot.mail(request_mail(subject="Verwijder mijn gegevens"))
    await bot.mail(reply(image=card(FIELDS)), at=RECEIVED + timedelta(days=1))
    await bot.worker.check_pending()
    assert len(files(settings)) == 1
    bot.clock.now = (
        RECEIVED + timedelta(days=1 + settings.identity.max_copy_days) - timedelta(hours=1)
    )
    assert (await bot.worker.sweep()).copies_deleted == 0
    bot.clock.now += timedelta(hours=2)
    assert (await bot.worker.sweep()).copies_deleted == 1
    assert files(settings) == []
    [copy] = await _copies(sessions)
    assert (copy.status, copy.deleted_reason) == ("deleted", "expired")


async def test_a_file_no_row_accounts_for_is_removed(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """A batch rolled back after its copy was written leaves a file behind: the sweep finds it."""
    bot = Desk(sessions, settings, RequestKind.ACCESS)
    bot.desk.vault.put(b"left behind by a rolled-back batch")
    bot.clock.now = datetime.now(UTC) + timedelta(hours=2)
    assert (await bot.worker.sweep()).orphans_deleted == 1
    assert files(settings) == []


async def test_without_ocr_a_copy_goes_to_staff_and_is_never_accepted_silently(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    class NoTools:
        def missing_tools(self) -> tuple[str, ...]:
            return ("OCR (tesseract not found)",)

        def check(self, data: bytes) -> CheckResult:
            return CheckResult(findings=(), missing_tools=self.missing_tools())

    bot = Desk(sessions, settings, RequestKind.ACCESS, checker=NoTools())
    bot.worker.announce()
    assert "ID-copy check unavailable (OCR (tesseract not found))" in caplog.text
    await bot.mail(request_mail())
    await bot.mail(reply(image=card(FIELDS)))
    await bot.worker.check_pending()
    [copy] = await _copies(sessions)
    assert (copy.status, copy.outcome) == ("review", "unchecked")
    checked = [e for e in await _events(sessions) if e.kind == "identity_copy_checked"]
    assert checked[0].detail["unavailable"] == ["OCR (tesseract not found)"]
    assert (await _case(sessions)).identity_state == "copy_received"  # staff still decide


async def test_a_typed_code_confirms_the_mailbox_and_a_quoted_one_does_not(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    bot = Desk(sessions, settings, RequestKind.RESTRICTION)
    await bot.mail(request_mail(subject="Beperk het gebruik van mijn gegevens"))
    case = await _case(sessions)
    assert case.identity_state == "code_sent" and case.paused_since is None
    [ack] = await _outbox(sessions)
    code = bot.desk.code_for(REF)
    assert code in ack.body and "kopie" in ack.body
    quoted = "Dit verzoek komt niet van mij!\n\n> Uw code: " + code
    await bot.mail(reply(body=quoted))
    assert (await _case(sessions)).identity_state == "code_sent"
    await bot.mail(reply(body=code.replace(" ", "") + "\n\nGroet, Jan"))
    assert (await _case(sessions)).identity_state == "confirmed"


async def test_a_code_from_another_address_confirms_nothing(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    bot = Desk(sessions, settings, RequestKind.PORTABILITY)
    await bot.mail(request_mail(subject="Mijn gegevens meenemen"))
    await bot.mail(reply(body=bot.desk.code_for(REF), sender="mallory@example.org"))
    assert (await _case(sessions)).identity_state == "code_sent"


async def test_the_person_is_reminded_twice_then_the_case_lapses_with_a_draft_for_staff(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    bot = Desk(sessions, settings, RequestKind.ACCESS)
    await bot.mail(request_mail())
    for days, reminded in ((6, []), (7, [REF]), (8, []), (14, [REF]), (20, [])):
        bot.clock.now = RECEIVED + timedelta(days=days)
        assert (await bot.worker.sweep()).reminded == reminded, f"day {days}"
    reminders = [m for m in await _outbox(sessions) if m.kind == "id_reminder"]
    assert len(reminders) == 2 and all(m.recipient == "jan@example.nl" for m in reminders)
    assert "2 december 2026" in reminders[0].body  # the day the request lapses

    bot.clock.now = RECEIVED + timedelta(days=settings.identity.lapse_days)
    assert (await bot.worker.sweep()).lapsed == [REF]
    assert (await bot.worker.sweep()).lapsed == []
    case = await _case(sessions)
    assert (case.state, case.decision, case.identity_state) == (
        "closed",
        "identity_not_verified",
        "not_verified",
    )
    async with sessions() as s:
        [draft] = list(await s.scalars(select(DraftRow)))
    assert draft.kind == "identity_not_verified" and draft.status == "draft"
    assert "Autoriteit Persoonsgegevens" in draft.body
    async with sessions.begin() as s:  # anyone may approve the bot's draft
        await casework.approve(s, draft.id, ANNE, bot.clock.now, settings)


async def test_a_second_request_proves_identity_anew_and_answers_wait_for_it(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    bot = Desk(sessions, settings, RequestKind.ACCESS)
    await bot.mail(request_mail())
    async with sessions.begin() as s:
        await identity.verify(s, bot.desk, REF, "passport", BOB.who, bot.clock.now)
    await bot.mail(request_mail(subject="Nog een inzageverzoek"), at=RECEIVED + timedelta(days=1))
    second = await _case(sessions, "AVG-2026-0002")
    assert second.identity_state == "copy_requested"
    async with sessions.begin() as s:
        draft = DraftRow(
            case_id=second.id,
            kind="access_answer",
            language="nl",
            subject="Uw gegevens",
            body="Hierbij uw gegevens.",
            detail={},
            status="draft",
            created_by=ANNE.who,
            created_at=bot.clock.now,
        )
        s.add(draft)
    with pytest.raises(CaseworkError, match="waits until identity is verified"):
        async with sessions.begin() as s:
            await casework.approve(s, draft.id, BOB, bot.clock.now, settings)


async def test_the_policy_may_let_a_recent_verification_count(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, identity={"reuse_verified_days": 30})
    bot = Desk(sessions, settings, RequestKind.ACCESS)
    await bot.mail(request_mail())
    async with sessions.begin() as s:
        await identity.verify(s, bot.desk, REF, "passport", BOB.who, bot.clock.now)
    await bot.mail(request_mail(subject="Nog een"), at=RECEIVED + timedelta(days=1))
    await bot.mail(
        request_mail(subject="Van iemand anders", sender="piet@example.nl"),
        at=RECEIVED + timedelta(days=1),
    )
    assert (await _case(sessions, "AVG-2026-0002")).identity_state == "verified"
    assert (await _case(sessions, "AVG-2026-0003")).identity_state == "copy_requested"
    inherited = [e for e in await _events(sessions) if e.kind == "identity_inherited"]
    assert [e.detail for e in inherited] == [{"from": REF}]


async def test_staff_can_ask_for_a_copy_when_in_doubt(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    bot = Desk(sessions, settings, RequestKind.RESTRICTION)
    await bot.mail(request_mail(subject="Beperk het gebruik"))
    async with sessions.begin() as s:
        await identity.request_copy(
            s, bot.desk, REF, ANNE.who, bot.clock.now, reason="Uw naam wijkt af van onze gegevens."
        )
    case = await _case(sessions)
    assert case.identity_state == "copy_requested" and case.paused_since is not None
    request = (await _outbox(sessions))[-1]
    assert request.kind == "id_request" and "Uw naam wijkt af" in request.body
    with pytest.raises(identity.IdentityError, match="asked for already"):
        async with sessions.begin() as s:
            await identity.request_copy(s, bot.desk, REF, ANNE.who, bot.clock.now)


async def test_rejecting_a_copy_deletes_it_and_keeps_answers_waiting(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    bot = Desk(sessions, settings, RequestKind.ACCESS)
    await bot.mail(request_mail())
    await bot.mail(reply(image=card(FIELDS)))
    await bot.worker.check_pending()
    async with sessions.begin() as s:
        await identity.reject(s, bot.desk, REF, "name does not match", BOB.who, bot.clock.now)
    assert files(settings) == []
    assert (await _case(sessions)).identity_state == "rejected"
    with pytest.raises(CaseworkError, match="identity is rejected"):
        async with sessions.begin() as s:
            await casework.close(s, REF, "answered", ANNE, bot.clock.now)


def test_the_vault_encrypts_and_another_key_cannot_read(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "v", "one secret")
    token = vault.put(b"an ID copy")
    assert vault.get(token) == b"an ID copy"
    with pytest.raises(VaultError, match="secret key"):
        Vault(tmp_path / "v", "another secret").get(token)
    assert vault.delete(token) and not vault.delete(token)
    assert os.listdir(tmp_path / "v") == []


async def test_the_running_bot_checks_a_mailed_copy_and_asks_again(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Over SMTP into the whole bot: the reply's copy is checked as soon as it is stored."""
    settings = make_settings(sqlite_url, tmp_path, smtp_intake={"enabled": "on"})
    async with running_bot(settings, classifier=FixedClassifier(RequestKind.ACCESS)) as bot:
        assert bot.intake is not None
        port = bot.intake.port
        await asyncio.to_thread(_send, port, request_mail(message_id="<vraag@example.nl>"))

        async def mails(count: int) -> bool:
            return len(outbox_mail(tmp_path / "outbox")) == count

        await eventually(lambda: mails(1))
        answer = reply(image=card(["mrz"]))  # photo, document number and BSN still show
        answer["In-Reply-To"] = "<vraag@example.nl>"
        await asyncio.to_thread(_send, port, answer)
        await eventually(lambda: mails(2), within=30)
    subjects = sorted(m["Subject"] for m in outbox_mail(tmp_path / "outbox"))
    assert any("nog niet afgeschermd" in s for s in subjects), subjects
    assert files(settings) == []


def _send(port: int, message: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.send_message(message)


async def test_when_the_acknowledgement_cannot_be_written_nothing_is_waited_for(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, tmp_path: Path
) -> None:
    """The question never went out, so the clock runs and staff ask from the case."""
    broken = tmp_path / "broken-templates"
    for language in ("nl", "en"):
        (broken / language).mkdir(parents=True)
        (broken / language / "acknowledgement.body.j2").write_text("{{ 1 / 0 }}\n")

    bot = Desk(sessions, settings, RequestKind.ACCESS)
    bot.pipeline._replies = Replies(override_dir=broken)
    await bot.mail(request_mail())
    case = await _case(sessions)
    assert (case.identity_state, case.paused_since, case.identity_requested_at) == (
        "undecided",
        None,
        None,
    )
    kinds = [e.kind for e in await _events(sessions)]
    assert "acknowledgement_suppressed" in kinds and "identity_requested" not in kinds

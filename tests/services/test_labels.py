"""Label corrections below the console: what a correction records and decides, and the export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.channels.mime import parse_mail
from dsr_bot.config import Settings
from dsr_bot.domain.bsn import BSN_MASK
from dsr_bot.domain.cases import RequestKind
from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.replies import Replies
from dsr_bot.secret_key import secret_file
from dsr_bot.services import accountability, casework, identity, labels
from dsr_bot.services.casework import Actor
from dsr_bot.services.identity import IdentityDesk
from dsr_bot.services.labels import LabelError, pseudonymise
from dsr_bot.services.pipeline import Pipeline
from dsr_bot.store.tables import CaseEventRow, CaseRow, OutboxRow, TaskRow
from tests.conftest import FixedClassifier, make_settings, request_mail

RECEIVED = datetime(2026, 11, 20, 10, 0, tzinfo=AMSTERDAM)
LATER = RECEIVED + timedelta(hours=3)
SAM = "sam@academiewerkendleren.nl"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def desk(settings: Settings) -> IdentityDesk:
    return IdentityDesk.from_settings(settings, Replies())


class Bot:
    """The pipeline that opens cases, and the staff action under test, on one database."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], settings: Settings, desk: IdentityDesk
    ) -> None:
        self.sessions, self.settings, self.desk = sessions, settings, desk
        self._count = 0

    async def mail(
        self,
        *,
        kind: RequestKind = RequestKind.ACCESS,
        confident: bool = False,
        sender: str = "Jan Jansen <jan@example.nl>",
        subject: str = "Vraag",
        body: str = "Ik heb een vraag over mijn gegevens.",
    ) -> str:
        self._count += 1
        pipeline = Pipeline(
            sessions=self.sessions,
            settings=self.settings,
            classifier=FixedClassifier(kind, confident=confident),
            replies=Replies(),
            clock=lambda: RECEIVED.astimezone(UTC),
            identity=self.desk,
        )
        raw = request_mail(sender=sender, subject=subject, body=body).as_bytes()
        [outcome] = await pipeline.ingest(
            [parse_mail(raw, source="info", external_id=f"1:{self._count}", received_at=RECEIVED)]
        )
        assert outcome.reference
        return outcome.reference

    async def correct(
        self, reference: str, kinds: list[str], at: datetime = LATER
    ) -> labels.Corrected:
        async with self.sessions.begin() as db:
            case = await casework.case_by_reference(db, reference)
            return await labels.correct_labels(db, case, kinds, SAM, at, self.settings, self.desk)

    async def case(self, reference: str) -> CaseRow:
        async with self.sessions() as db:
            return await casework.case_by_reference(db, reference)

    async def outbox(self, reference: str) -> list[OutboxRow]:
        case = await self.case(reference)
        async with self.sessions() as db:
            query = select(OutboxRow).where(OutboxRow.case_id == case.id).order_by(OutboxRow.id)
            return list(await db.scalars(query))

    async def events(self, reference: str) -> list[CaseEventRow]:
        case = await self.case(reference)
        async with self.sessions() as db:
            query = select(CaseEventRow).where(CaseEventRow.case_id == case.id)
            return list(await db.scalars(query.order_by(CaseEventRow.id)))


@pytest.fixture
def bot(sessions: async_sessionmaker[AsyncSession], settings: Settings, desk: IdentityDesk) -> Bot:
    return Bot(sessions, settings, desk)


# --- pseudonymising ------------------------------------------------------------------------------


def test_identifiers_become_placeholders_and_the_request_stays() -> None:
    text = (
        "Verwijder mijn account. Mijn adres is Lindelaan 42, 3512 AB Utrecht, IBAN "
        "NL91ABNA0417164300, tel. 06-12345678, mail marloes.d@example.nl. BSN: "
        f"{BSN_MASK}.\n\nGroet,\nMarloes"
    )
    out = pseudonymise(text, known=["marloes.d@example.nl", "Marloes van Dijkhuizen"])
    for identifier in (
        "Lindelaan",
        "3512 AB",
        "NL91ABNA0417164300",
        "06-12345678",
        "marloes.d@example.nl",
        "Marloes",
    ):
        assert identifier not in out
    assert out.startswith("Verwijder mijn account. Mijn adres is [adres], IBAN [IBAN], tel. ")
    assert "[telefoonnummer]" in out and "[e-mailadres]" in out and BSN_MASK in out
    assert out.endswith("Groet,\n[naam]")


def test_text_without_identifiers_is_left_as_it_is() -> None:
    text = "graag inzage in alles wat jullie over mij bewaren"
    assert pseudonymise(text, known=[None, "jan@example.nl"]) == text


@pytest.mark.parametrize(
    ("kinds", "reason"),
    [([], "empty"), (["access", "other"], "other_alone"), (["access", "everything"], "unknown")],
)
def test_kinds_are_checked(kinds: list[str], reason: str) -> None:
    with pytest.raises(LabelError) as refused:
        labels.checked_kinds(kinds)
    assert refused.value.reason == reason


# --- correcting ----------------------------------------------------------------------------------


async def test_a_triage_case_corrected_to_restriction_gets_a_code(bot: Bot) -> None:
    reference = await bot.mail(kind=RequestKind.ACCESS, confident=False)
    done = await bot.correct(reference, ["restriction"])
    assert (done.opened, done.asked) == (True, "code")
    case = await bot.case(reference)
    assert (case.state, case.identity_policy, case.identity_state) == (
        "open",
        "on_doubt",
        "code_sent",
    )
    assert case.paused_since is None  # a code does not stop the clock
    ack, code_mail = await bot.outbox(reference)
    assert (ack.kind, code_mail.kind) == ("acknowledgement", "acknowledgement")
    assert bot.desk.code_for(reference) in code_mail.body
    assert bot.desk.code_for(reference) not in ack.body
    requested = [e for e in await bot.events(reference) if e.kind == "identity_requested"]
    assert [(e.actor, e.detail) for e in requested] == [
        (SAM, {"method": "code", "outbox": code_mail.id})
    ]


async def test_a_triage_case_staff_already_settled_asks_nothing_more(bot: Bot) -> None:
    reference = await bot.mail(kind=RequestKind.OBJECTION, confident=False)
    async with bot.sessions.begin() as db:
        await identity.waive(db, bot.desk, reference, "known at the desk", SAM, RECEIVED)
    done = await bot.correct(reference, ["access"])
    assert done.asked is None and done.stricter is not None  # the console warns
    case = await bot.case(reference)
    assert (case.state, case.identity_state) == ("open", "not_needed")
    assert [m.kind for m in await bot.outbox(reference)] == ["acknowledgement"]


async def test_a_second_correction_adds_steps_and_never_removes_one(bot: Bot) -> None:
    reference = await bot.mail(kind=RequestKind.OBJECTION, confident=True)
    first = await bot.correct(reference, ["access"])
    second = await bot.correct(reference, ["objection"], at=LATER + timedelta(minutes=5))
    assert first.steps > 0 and not first.opened
    case = await bot.case(reference)
    async with bot.sessions() as db:
        kinds = set(await db.scalars(select(TaskRow.kind).where(TaskRow.case_id == case.id)))
    assert "access" in kinds  # kept: someone may have worked on them
    assert case.kinds == ["objection"]
    assert second.correction.before == ["access"]


async def test_a_closed_case_keeps_its_correction_as_training_data_only(bot: Bot) -> None:
    reference = await bot.mail(kind=RequestKind.ACCESS, confident=False)
    async with bot.sessions.begin() as db:
        await casework.close(db, reference, "not_privacy", Actor(SAM), RECEIVED)
    done = await bot.correct(reference, ["other"])
    assert (done.opened, done.steps, done.asked) == (False, 0, None)
    assert (await bot.case(reference)).state == "closed"
    assert [e.kind for e in await bot.events(reference)][-1] == "labels_corrected"


# --- exporting -----------------------------------------------------------------------------------


async def test_the_latest_correction_of_each_case_is_exported_and_erased_ones_are_not(
    bot: Bot, settings: Settings
) -> None:
    jan = await bot.mail(subject="Mijn gegevens", body="Wat hebben jullie van mij?")
    piet = await bot.mail(
        sender="Piet Bakker <piet@example.nl>",
        subject="Stop",
        body="Haal me uit de nieuwsbrief.",
    )
    anna = await bot.mail(sender="Anna <anna@example.nl>", body="Wis alles van mij.")
    await bot.correct(jan, ["erasure"])
    await bot.correct(jan, ["access", "portability"], at=LATER + timedelta(days=1))
    await bot.correct(piet, ["objection"])
    await bot.correct(anna, ["erasure"])
    async with bot.sessions.begin() as db:
        key = accountability.ledger_key(secret_file(settings))
        await casework.close(db, anna, "withdrawn", Actor(SAM), LATER)  # then she is erased
        case = await casework.case_by_reference(db, anna)
        await accountability.record_erasure(
            db, key, case=case, identifiers={"email": ["anna@example.nl"]}, now=LATER, actor=SAM
        )

    async with bot.sessions() as db:
        found = await labels.training_examples(db)
    assert found.skipped == 1
    by_case = {str(e["id"]).rsplit("-", 1)[0]: e for e in found.examples}
    assert set(by_case) == {f"correction-{jan}", f"correction-{piet}"}
    assert by_case[f"correction-{jan}"]["labels"] == ["access", "portability"]
    assert by_case[f"correction-{jan}"]["text"] == "Mijn gegevens\nWat hebben jullie van mij?"
    assert by_case[f"correction-{piet}"] == {
        "id": by_case[f"correction-{piet}"]["id"],
        "text": "Stop\nHaal me uit de nieuwsbrief.",
        "labels": ["objection"],
        "lang": "nl",
        "style": "mail",
    }

    async with bot.sessions() as db:
        recent = await labels.training_examples(db, since=LATER + timedelta(hours=12))
    assert [e["labels"] for e in recent.examples] == [["access", "portability"]]

"""The access and portability packages: what is in the zip, that it reads back, that it goes out
with the approved reply (also when the first attempt fails), and that collected data is sealed
and deleted with the case."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.channels.mail_out import MaildirTransport
from dsr_bot.channels.mime import parse_mail
from dsr_bot.config import Settings
from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.domain.outgoing import OutgoingMail
from dsr_bot.errors import DeliveryError
from dsr_bot.nlp.classifier import Unclassified
from dsr_bot.replies import Replies
from dsr_bot.services import casework, collected, packages, retention
from dsr_bot.services.casework import Actor, CaseworkError
from dsr_bot.services.collected import Collected
from dsr_bot.services.outbox import OutboxSender
from dsr_bot.services.pipeline import Pipeline
from dsr_bot.store.sealed import Sealer
from dsr_bot.store.tables import (
    CaseEventRow,
    CaseRow,
    CollectedItemRow,
    DraftRow,
    OutboxAttachmentRow,
    OutboxRow,
)
from tests.conftest import make_settings, outbox_mail, request_mail

ROOT = Path(__file__).resolve().parents[2]
PDF = "%PDF-1.4 Zoë".encode()
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
REF = "AVG-2026-0001"
ANNE, BOB = Actor("anne@example.nl"), Actor("bob@example.nl")
# Values a CSV writer must get right: separators, quotes, line breaks, non-ASCII.
TRICKY = (
    ("Naam", "Zoë de Vries-O'Brien"),
    ("Adres", 'Kerkstraat 1, "achterhuis"\n1234 AB Utrecht'),
    ("Opmerking", "€ 12,50; ok\r\nlaatste regel"),
    ("Leeg", ""),
)


def item(
    id: int,
    system: str,
    *,
    fields: tuple[tuple[str, str], ...] = (),
    filename: str | None = None,
    data: bytes = b"",
    provided: bool = True,
) -> Collected:
    return Collected(
        id=id,
        system=system,
        added_at=NOW - timedelta(days=1),
        provided=provided,
        fields=fields,
        filename=filename,
        content_type="application/pdf" if filename else None,
        data=data,
    )


ITEMS = [
    item(1, "CRM", fields=TRICKY),
    item(2, "CRM", filename="export.pdf", data=b"%PDF-1.4 crm"),
    item(3, "Leeromgeving", fields=(("Cijfer", "8,5"),), provided=False),
    item(4, "Leeromgeving", filename="export.pdf", data=b"%PDF-1.4 lms", provided=False),
]


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def expected_rows(items: list[Collected]) -> list[list[str]]:
    return [["system", "field", "value"]] + [
        [i.system, name, value] for i in items for name, value in i.fields
    ]


# --- assembly ------------------------------------------------------------------------------------


def test_the_access_package_holds_everything_as_json_csv_files_and_a_dutch_summary() -> None:
    package = packages.build_package(
        "access",
        reference=REF,
        language="nl",
        organisation="Academie Werkend Leren",
        items=ITEMS,
        now=NOW,
    )
    assert (package.filename, package.content_type) == (f"inzage-{REF}.zip", "application/zip")
    files = members(package.data)
    assert set(files) == {
        "access.json",
        "data.csv",
        "overzicht.txt",
        "bestanden/CRM/export.pdf",
        "bestanden/Leeromgeving/export.pdf",
    }
    document = json.loads(files["access.json"])
    assert document["reference"] == REF
    assert document["generated_at"] == "2026-11-20T09:00:00+00:00"
    crm, lms = document["systems"]
    assert crm["system"] == "CRM" and lms["system"] == "Leeromgeving"
    assert [(f["field"], f["value"]) for f in crm["fields"]] == list(TRICKY)
    assert crm["files"][0]["path"] == "bestanden/CRM/export.pdf"
    assert lms["fields"][0]["provided_by_person"] is False  # access: everything, also this
    assert csv_rows(files["data.csv"]) == expected_rows(ITEMS)
    assert files["bestanden/CRM/export.pdf"] == b"%PDF-1.4 crm"
    assert files["bestanden/Leeromgeving/export.pdf"] == b"%PDF-1.4 lms"
    summary = files["overzicht.txt"].decode("utf-8")
    assert f"Zaak: {REF}" in summary and "Gemaakt op: 20 november 2026" in summary
    assert "CRM\n---" in summary and "Leeromgeving\n------------" in summary
    assert "  Naam: Zoë de Vries-O'Brien" in summary
    assert "  Bestand: bestanden/CRM/export.pdf" in summary
    assert "  Leeg: (leeg)" in summary


def test_an_english_case_gets_an_english_summary() -> None:
    package = packages.build_package(
        "access", reference=REF, language="en", organisation="AWL", items=ITEMS[:2], now=NOW
    )
    files = members(package.data)
    assert "overzicht.txt" not in files and "files/CRM/export.pdf" in files
    summary = files["summary.txt"].decode("utf-8")
    assert "Overview of your personal data" in summary and "Made on: 20 November 2026" in summary
    assert "  File: files/CRM/export.pdf (12 bytes)" in summary


def test_the_portability_package_holds_only_what_the_person_provided_in_the_schema() -> None:
    package = packages.build_package(
        "portability",
        reference=REF,
        language="nl",
        organisation="Academie Werkend Leren",
        items=ITEMS,
        now=NOW,
    )
    assert package.filename == f"gegevens-{REF}.zip"
    files = members(package.data)
    assert set(files) == {"data.json", "data.csv", "README.txt", "files/CRM/export.pdf"}
    document = json.loads(files["data.json"].decode("utf-8"))
    assert document["schema"] == "dsr-bot-portability/1"
    assert (document["reference"], document["controller"]) == (REF, "Academie Werkend Leren")
    assert [(f["system"], f["field"], f["value"]) for f in document["fields"]] == [
        ("CRM", name, value) for name, value in TRICKY
    ]
    [file] = document["files"]
    assert file["path"] == "files/CRM/export.pdf" and file["size"] == len(b"%PDF-1.4 crm")
    assert file["sha256"] == hashlib.sha256(files["files/CRM/export.pdf"]).hexdigest()
    # Not provided by the person: not in any file of the package.
    assert b"8,5" not in files["data.csv"] and "Cijfer" not in json.dumps(document)
    assert csv_rows(files["data.csv"]) == expected_rows(ITEMS[:1])
    assert files["data.csv"].startswith(b"system,field,value\r\n")  # no BOM, CRLF
    assert "data.json" in files["README.txt"].decode("utf-8")


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_every_key_in_data_json_is_described_in_the_schema_document() -> None:
    package = packages.build_package(
        "portability", reference=REF, language="nl", organisation="AWL", items=ITEMS, now=NOW
    )
    keys = _keys(json.loads(members(package.data)["data.json"]))
    doc = (ROOT / "docs" / "portability-schema.md").read_text(encoding="utf-8")
    described = set(re.findall(r"^\| `([a-z_0-9]+)` \|", doc, re.M))
    assert keys == {"schema", "reference", "controller", "generated_at", "fields", "files"} | {
        "system", "field", "value", "collected_at", "filename", "path", "content_type", "size",
        "sha256",
    }  # fmt: skip
    assert keys <= described, f"not in docs/portability-schema.md: {sorted(keys - described)}"


def test_file_names_stay_inside_their_folder_and_do_not_overwrite_each_other() -> None:
    items = [
        item(1, "CRM/../..", filename="../../etc/passwd", data=b"a"),
        item(2, "CRM/../..", filename="passwd", data=b"b"),
        item(3, "Mail", filename="..", data=b"c"),
    ]
    package = packages.build_package(
        "access", reference=REF, language="nl", organisation="AWL", items=items, now=NOW
    )
    files = members(package.data)
    paths = sorted(name for name in files if name.startswith("bestanden/"))
    assert paths == [
        "bestanden/CRM_.._../passwd",
        "bestanden/CRM_.._../passwd (2)",
        "bestanden/Mail/bestand",
    ]
    assert [files[p] for p in paths] == [b"a", b"b", b"c"]


def test_field_input_is_checked_in_dutch() -> None:
    assert collected.clean_fields([("  E-mail  adres ", "jan@example.nl\r\n"), ("", "")]) == (
        ("E-mail adres", "jan@example.nl"),
    )
    with pytest.raises(CaseworkError, match="Geef elk veld een naam"):
        collected.clean_fields([("", "waarde zonder naam")])
    with pytest.raises(CaseworkError, match="minstens één veld"):
        collected.clean_fields([("", ""), (" ", "")])
    assert collected.clean_filename("C:\\Users\\jan\\export\x00.pdf") == "export.pdf"


# --- with the database ---------------------------------------------------------------------------


@pytest.fixture
async def settings(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> Settings:
    """A case opened from a mail and acknowledged, its identity verified (a reply may go)."""
    settings = make_settings(database_url, tmp_path)
    received = datetime(2026, 11, 4, 10, 0, tzinfo=AMSTERDAM)
    pipeline = Pipeline(
        sessions=sessions,
        settings=settings,
        classifier=Unclassified(),
        replies=Replies(),
        clock=lambda: received.astimezone(UTC),
    )
    raw = request_mail(sender="Jan Jansen <jan@example.nl>").as_bytes()
    await pipeline.ingest([parse_mail(raw, source="info", external_id="1:1", received_at=received)])
    async with sessions.begin() as s:
        await s.execute(update(CaseRow).values(identity_state="verified", state="open"))
        await s.execute(update(OutboxRow).values(status="sent"))  # the acknowledgement went
    return settings


async def _case(s: AsyncSession) -> CaseRow:
    return await casework.case_by_reference(s, REF)


async def _add_data(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, *, provided: bool = True
) -> None:
    sealer = Sealer.from_settings(settings)
    async with sessions.begin() as s:
        case = await _case(s)
        await collected.add_fields(
            s, case, "CRM", TRICKY, provided=provided, who=ANNE.who, now=NOW,
            settings=settings, sealer=sealer,
        )  # fmt: skip
        await collected.add_file(
            s, case, "Leeromgeving", filename="cijfers.pdf", content_type="application/pdf",
            data=PDF, provided=provided, who=ANNE.who, now=NOW, settings=settings,
            sealer=sealer,
        )  # fmt: skip


async def _draft(sessions: async_sessionmaker[AsyncSession], kind: str) -> int:
    async with sessions.begin() as s:
        case = await _case(s)
        draft = DraftRow(
            case_id=case.id,
            kind=kind,
            language="nl",
            subject=f"Uw verzoek [{REF}]",
            body="Beste Jan,\n\nIn de bijlage vindt u uw gegevens.\n",
            detail={},
            status="draft",
            created_by=ANNE.who,
            created_at=NOW,
        )
        s.add(draft)
        await s.flush()
        return draft.id


async def _count(sessions: async_sessionmaker[AsyncSession], table: type[Any]) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(table)) or 0)


class Recording:
    """A transport that fails the first `failures` sends, then keeps what it is given."""

    def __init__(self, failures: int = 0, *, permanent: bool = False) -> None:
        self.failures, self.permanent = failures, permanent
        self.sent: list[OutgoingMail] = []

    async def send(self, mail: OutgoingMail) -> None:
        if self.failures:
            self.failures -= 1
            raise DeliveryError("relay down", permanent=self.permanent)
        self.sent.append(mail)


def _sender(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, transport: Recording
) -> OutboxSender:
    return OutboxSender(
        sessions=sessions,
        transport=transport,
        settings=settings.mail,
        clock=lambda: NOW + timedelta(hours=1),
        sealer=Sealer.from_settings(settings),
    )


async def test_collected_data_is_stored_sealed(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _add_data(sessions, settings)
    async with sessions() as s:
        rows = list(await s.scalars(select(CollectedItemRow).order_by(CollectedItemRow.id)))
        events = list(
            await s.scalars(select(CaseEventRow).where(CaseEventRow.kind == "data_added"))
        )
        loaded = await collected.load(s, await _case(s), Sealer.from_settings(settings))
    assert [(r.system, r.form, r.size) for r in rows] == [
        ("CRM", "fields", 4),
        ("Leeromgeving", "file", len(PDF)),
    ]
    for row in rows:
        # Sealed: no plain text (a space, comma or % is not in a Fernet token's alphabet).
        assert b"Kerkstraat 1," not in row.sealed and b"%PDF-1.4" not in row.sealed
    assert loaded[0].fields == tuple((n, v.replace("\r\n", "\n").strip()) for n, v in TRICKY)
    assert loaded[1].data == PDF
    # The log says which system and how much, never a value or a file name.
    assert [e.actor for e in events] == [ANNE.who, ANNE.who]
    assert "cijfers" not in json.dumps([e.detail for e in events])
    assert "Zoë" not in json.dumps([e.detail for e in events])


async def test_a_file_over_the_limit_is_refused_with_its_size(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    with pytest.raises(CaseworkError, match=r"te groot \(10,0 MB\)"):
        async with sessions.begin() as s:
            await collected.add_file(
                s, await _case(s), "CRM", filename="groot.bin", content_type="",
                data=b"x" * (collected.MAX_FILE_BYTES + 1), provided=True, who=ANNE.who, now=NOW,
                settings=settings, sealer=Sealer.from_settings(settings),
            )  # fmt: skip
    assert await _count(sessions, CollectedItemRow) == 0


async def test_an_approved_access_reply_goes_out_with_its_package_and_the_copy_is_then_deleted(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _add_data(sessions, settings)
    draft_id = await _draft(sessions, "access_reply")
    async with sessions.begin() as s:
        await casework.approve(s, draft_id, BOB, NOW, settings)
    async with sessions() as s:
        [stored] = list(await s.scalars(select(OutboxAttachmentRow)))
        outbox = await s.get(OutboxRow, stored.outbox_id)
        event = await s.scalar(select(CaseEventRow).where(CaseEventRow.kind == "package_attached"))
    assert outbox is not None and outbox.kind == "access_reply"
    assert stored.filename == f"inzage-{REF}.zip"
    assert Sealer.from_settings(settings).open(stored.sealed).startswith(b"PK\x03\x04")
    assert not stored.sealed.startswith(b"PK")  # kept sealed, not as the zip itself
    assert event is not None and event.detail["package"] == f"inzage-{REF}.zip"

    transport = Recording(failures=1)
    sender = _sender(sessions, settings, transport)
    assert await sender.deliver_due() == 1  # the relay is down: the package is kept for a retry
    assert await _count(sessions, OutboxAttachmentRow) == 1
    async with sessions.begin() as s:
        await s.execute(update(OutboxRow).values(next_attempt_at=NOW))
    assert await sender.deliver_due() == 1
    [mail] = transport.sent
    [attachment] = mail.attachments
    assert (attachment.filename, attachment.content_type) == (
        f"inzage-{REF}.zip",
        "application/zip",
    )
    files = members(attachment.data)
    assert json.loads(files["access.json"])["reference"] == REF
    assert files["bestanden/Leeromgeving/cijfers.pdf"] == PDF
    assert await _count(sessions, OutboxAttachmentRow) == 0  # sent: not kept


async def test_a_package_whose_mail_fails_for_good_is_not_kept(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _add_data(sessions, settings)
    async with sessions.begin() as s:
        await casework.approve(s, await _draft(sessions, "portability_reply"), BOB, NOW, settings)
    assert await _count(sessions, OutboxAttachmentRow) == 1
    await _sender(sessions, settings, Recording(failures=1, permanent=True)).deliver_due()
    async with sessions() as s:
        status = await s.scalar(
            select(OutboxRow.status).where(OutboxRow.kind == "portability_reply")
        )
    assert status == "failed"
    assert await _count(sessions, OutboxAttachmentRow) == 0


@pytest.mark.parametrize(
    ("kind", "provided"), [("access_reply", None), ("portability_reply", False)]
)
async def test_a_reply_without_collected_data_is_refused_and_nothing_is_queued(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, kind: str, provided: bool | None
) -> None:
    if provided is not None:
        await _add_data(sessions, settings, provided=provided)  # nothing the person provided
    draft_id = await _draft(sessions, kind)
    outbox_before = await _count(sessions, OutboxRow)
    with pytest.raises(CaseworkError, match="Verzamelde gegevens") as refused:
        async with sessions.begin() as s:
            await casework.approve(s, draft_id, BOB, NOW, settings)
    assert refused.value.code == "no_data"
    assert await _count(sessions, OutboxRow) == outbox_before
    async with sessions() as s:
        draft = await s.get(DraftRow, draft_id)
    assert draft is not None and draft.status == "draft"


async def test_other_replies_are_approved_as_before_without_a_package(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    async with sessions.begin() as s:
        await casework.approve(s, await _draft(sessions, "answer"), BOB, NOW, settings)
    assert await _count(sessions, OutboxAttachmentRow) == 0
    transport = Recording()
    await _sender(sessions, settings, transport).deliver_due()
    [mail] = transport.sent
    assert (mail.subject, mail.attachments) == (f"Uw verzoek [{REF}]", ())


async def test_a_package_cannot_go_to_a_case_that_came_by_chat(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _add_data(sessions, settings)
    async with sessions.begin() as s:
        await s.execute(update(CaseRow).values(channel="telegram", requester="123456"))
    draft_id = await _draft(sessions, "access_reply")
    with pytest.raises(CaseworkError, match="alleen per e-mail") as refused:
        async with sessions.begin() as s:
            await casework.approve(s, draft_id, BOB, NOW, settings)
    assert refused.value.code == "package_channel"


async def test_collected_data_goes_when_the_person_is_erased(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _add_data(sessions, settings)
    async with sessions.begin() as s:
        await casework.close(s, REF, "erased", ANNE, NOW, ledger_key=b"k" * 32)
    assert await _count(sessions, CollectedItemRow) == 0


async def test_collected_data_goes_when_the_case_closes_and_a_waiting_package_at_retention(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _add_data(sessions, settings)
    async with sessions.begin() as s:
        await casework.approve(s, await _draft(sessions, "access_reply"), BOB, NOW, settings)
        await casework.close(s, REF, "answered", ANNE, NOW)
    assert await _count(sessions, CollectedItemRow) == 0  # it went out in the package
    assert await _count(sessions, OutboxAttachmentRow) == 1  # not sent yet: it waits
    report = await retention.purge(sessions, now=NOW + timedelta(days=731), keep_days=730)
    assert report.references == [REF]
    assert report.rows["outbox_attachments"] == 1
    assert await _count(sessions, OutboxAttachmentRow) == 0


async def test_the_mail_in_the_maildir_carries_the_zip_as_an_attachment(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _add_data(sessions, settings)
    async with sessions.begin() as s:
        await casework.approve(s, await _draft(sessions, "portability_reply"), BOB, NOW, settings)
    sender = OutboxSender(
        sessions=sessions,
        transport=MaildirTransport(settings.mail.outbox_maildir),
        settings=settings.mail,
        clock=lambda: NOW + timedelta(hours=1),
        sealer=Sealer.from_settings(settings),
    )
    assert await sender.deliver_due() == 1
    [mail] = outbox_mail(settings.mail.outbox_maildir)
    [part] = [p for p in mail.iter_attachments() if p.get_filename() == f"gegevens-{REF}.zip"]
    assert part.get_content_type() == "application/zip"
    files = members(part.get_content())
    assert csv_rows(files["data.csv"]) == [
        ["system", "field", "value"],
        *(["CRM", n, v.replace("\r\n", "\n").strip()] for n, v in TRICKY),
    ]
    assert files["files/Leeromgeving/cijfers.pdf"] == PDF

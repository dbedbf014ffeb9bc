"""What the bot writes to disk holds personal data, so another user of the machine reads none of
it: files 0600, folders 0700, under an ordinary umask (022), made so by the code that creates
them. And the ID check hands the image to tesseract without a file."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import smtplib
import stat
import tempfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytesseract
import pytest
from sqlalchemy import select

from dsr_bot.identity import IdChecker
from dsr_bot.store import migrate
from dsr_bot.store.engine import create_engine
from dsr_bot.store.tables import IdCopyRow
from tests.conftest import eventually, make_settings, outbox_mail, request_mail, running_bot
from tests.identity.cards import FIELDS, Transform, draw_card, encode, random_person

PERSON = random_person(random.Random(7), "TD1")


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most systems give a service: new files 0644 unless the code says otherwise."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def _send(port: int, message: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.send_message(message)


def _modes(root: Path) -> dict[str, str]:
    """Every file and folder under root (root included) with its permission bits."""
    found = {".": oct(stat.S_IMODE(root.stat().st_mode))}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = oct(stat.S_IMODE(path.stat().st_mode))
    return found


async def test_the_database_outgoing_mail_id_copies_and_secret_are_for_the_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The generated secret file too, and no OCR: every copy then waits for staff, on disk.
    monkeypatch.delenv("DSR_BOT_SECRET_KEY")
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    data = tmp_path / "srv" / "var"
    settings = make_settings(
        f"sqlite+aiosqlite:///{data}/dsr-bot.db",
        tmp_path,
        mail={"outbox_maildir": str(data / "outbox")},
        identity={"storage_dir": str(data / "id-copies")},
        smtp_intake={"enabled": "on"},
    )
    async with running_bot(settings) as bot:
        assert bot.intake is not None
        await asyncio.to_thread(_send, bot.intake.port, request_mail())
        await eventually(lambda: asyncio.sleep(0, len(outbox_mail(data / "outbox")) == 1))
        [ack] = outbox_mail(data / "outbox")
        found = re.search(r"AVG-\d{4}-\d{4}", ack["Subject"])
        assert found, ack["Subject"]
        answer = request_mail(subject=f"Re: {ack['Subject']}", body="Hierbij mijn kopie.")
        shielded = encode(draw_card(PERSON, FIELDS), Transform("plain"))
        answer.add_attachment(shielded, maintype="image", subtype="png", filename="id.png")
        await asyncio.to_thread(_send, bot.intake.port, answer)

        async def stored() -> bool:
            async with bot.sessions() as session:
                return await session.scalar(select(IdCopyRow.id)) is not None

        await eventually(stored)
        modes = _modes(data)  # while the bot runs: SQLite's -wal and -shm files exist now
    names = set(modes)
    assert {"dsr-bot.db", "dsr-bot.db-wal", "dsr-bot.db-shm", "secret.key"} <= names
    assert any(n.startswith("outbox/new/") for n in names)
    assert any(n.startswith("id-copies/") and n.endswith(".idcopy") for n in names)
    opened = {n: m for n, m in modes.items() if (data / n).is_dir() and m != "0o700"}
    readable = {n: m for n, m in modes.items() if (data / n).is_file() and m != "0o600"}
    assert opened == {} and readable == {}


async def test_an_existing_database_others_can_read_is_named_in_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    assert f"{path} can be read by other users: chmod 600 it" in caplog.text
    assert [r.levelno for r in caplog.records if str(path) in r.getMessage()] == [logging.WARNING]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # the operator's file is not changed


def test_the_id_check_writes_no_image_or_text_to_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytesseract would save the page in the temp folder (0644) and let tesseract write the
    text next to it; the check pipes both. Its clean-up is switched off here, so a file left
    there would show."""
    checker = IdChecker()
    assert checker.missing_tools() == (), "the check needs tesseract and OpenCV's cascades"
    watched = tmp_path / "tmp"
    watched.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(watched))
    monkeypatch.setattr(pytesseract.pytesseract, "cleanup", lambda name: None)
    result = checker.check(encode(draw_card(PERSON), Transform("plain")))
    assert {f.kind for f in result.findings} >= {"bsn", "mrz"}  # the OCR really ran
    assert list(watched.iterdir()) == []

"""SMTP intake, the embedded default: mail sent to the bot becomes a case and an acknowledgement."""

from __future__ import annotations

import asyncio
import os
import re
import smtplib
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from dsr_bot.store.tables import CaseRow, MessageRow
from tests.conftest import eventually, make_settings, outbox_mail, request_mail, running_bot


def _send(port: int, message: EmailMessage | bytes, sender: str = "jan@example.nl") -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        if isinstance(message, bytes):
            smtp.sendmail(sender, ["info@academiewerkendleren.nl"], message)
        else:
            smtp.send_message(message)


async def test_mail_becomes_a_case_and_an_acknowledgement_within_two_seconds(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = make_settings(sqlite_url, tmp_path, smtp_intake={"enabled": "on"})
    async with running_bot(settings) as bot:
        assert bot.intake is not None
        request = request_mail(message_id="<vraag-1@example.nl>")
        started = time.monotonic()
        await asyncio.to_thread(_send, bot.intake.port, request)

        async def acknowledged() -> bool:
            return len(outbox_mail(tmp_path / "outbox")) == 1

        await eventually(acknowledged, within=2.0)
        elapsed = time.monotonic() - started
    [ack] = outbox_mail(tmp_path / "outbox")
    assert elapsed < 2.0
    assert ack["To"] == "jan@example.nl"
    assert ack["In-Reply-To"] == "<vraag-1@example.nl>"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert re.search(r"\[AVG-\d{4}-\d{4}\]$", ack["Subject"])
    body = ack.get_body(("plain",))
    assert body is not None
    # An access request: the acknowledgement asks for a shielded copy of an ID document.
    assert "kopie van uw identiteitsbewijs" in body.get_content()


async def test_a_30_mb_attachment_still_makes_a_case_with_the_attachment_listed(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = make_settings(sqlite_url, tmp_path, smtp_intake={"enabled": "on"})
    request = request_mail(subject="Inzageverzoek met bijlage")
    request.add_attachment(
        os.urandom(30 * 1024 * 1024), maintype="application", subtype="pdf", filename="scan.pdf"
    )
    async with running_bot(settings) as bot:
        assert bot.intake is not None
        await asyncio.to_thread(_send, bot.intake.port, request)
        async with bot.sessions() as session:
            message = await session.scalar(select(MessageRow))
            case = await session.scalar(select(CaseRow))
    assert case is not None and message is not None
    assert message.attachments == [
        {"filename": "scan.pdf", "content_type": "application/pdf", "size": 30 * 1024 * 1024}
    ]


async def test_mail_over_the_size_limit_is_refused_so_the_sender_knows(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        sqlite_url, tmp_path, smtp_intake={"enabled": "on"}, mail={"max_message_bytes": 100_000}
    )
    request = request_mail()
    request.add_attachment(b"x" * 200_000, maintype="application", subtype="octet-stream")
    async with running_bot(settings) as bot:
        assert bot.intake is not None
        port = bot.intake.port
        with pytest.raises(smtplib.SMTPException) as refused:
            await asyncio.to_thread(_send, port, request)
        async with bot.sessions() as session:
            assert await session.scalar(select(MessageRow)) is None
    assert getattr(refused.value, "smtp_code", None) == 552


async def test_mail_without_a_from_header_uses_the_envelope_sender(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = make_settings(sqlite_url, tmp_path, smtp_intake={"enabled": "on"})
    raw = b"Subject: verwijder mij\r\n\r\nGraag mijn gegevens verwijderen.\r\n"
    async with running_bot(settings) as bot:
        assert bot.intake is not None
        await asyncio.to_thread(_send, bot.intake.port, raw, "piet@example.nl")
        async with bot.sessions() as session:
            case = await session.scalar(select(CaseRow))
    assert case is not None
    assert case.requester == "piet@example.nl"

"""Malformed mail never stops the worker: each becomes a case, or is quarantined with a reason."""

from __future__ import annotations

import asyncio
import os
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from dsr_bot.store.tables import CaseRow, MessageRow
from tests.conftest import count_rows, eventually, imap_settings, request_mail, running_bot
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.dovecot


def _html_only() -> bytes:
    msg = EmailMessage()
    msg["From"] = "html@example.nl"
    msg["Subject"] = "html"
    msg.set_content(
        "<html><body><p>Ik wil <b>inzage</b> in mijn gegevens.</p></body></html>", "html"
    )
    return msg.as_bytes()


def _big_attachment() -> bytes:
    msg = request_mail(sender="groot@example.nl", subject="groot")
    msg.add_attachment(
        os.urandom(30 * 1024 * 1024), maintype="image", subtype="jpeg", filename="a.jpg"
    )
    return msg.as_bytes()


MALFORMED = {
    "broken mime": (
        b"From: broken@example.nl\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="nope"\r\n\r\n--other\r\n'
        b"Content-Type: text/plain\r\n\r\nverwijder mij\r\n--other"
    ),
    "unknown charset": (
        b"From: charset@example.nl\r\nSubject: charset\r\n"
        b"Content-Type: text/plain; charset=x-klingon-7\r\n\r\nIk wil inzage \xe9\xe9n keer.\r\n"
    ),
    "empty body": b"From: empty@example.nl\r\nSubject: empty\r\n\r\n",
    "html only": _html_only(),
    "no sender": b"Subject: no sender\r\n\r\nwie ben ik\r\n",
    "truncated base64": (
        b"From: b64@example.nl\r\nSubject: b64\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"SWsgd2ls\r\nI"
    ),
    "30 MB attachment": _big_attachment(),
    "garbage": os.urandom(2000),
}


async def test_every_malformed_mail_becomes_a_case_or_is_quarantined_with_a_reason(
    dovecot: DovecotServer, sqlite_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(dovecot.append_many, MALFORMED.values())
    await asyncio.to_thread(dovecot.append, request_mail(sender="normal@example.nl").as_bytes())
    total = len(MALFORMED) + 1
    async with running_bot(imap_settings(sqlite_url, tmp_path, dovecot)) as bot:

        async def all_stored() -> bool:
            return await count_rows(bot, MessageRow) == total

        await eventually(all_stored, within=30)
        async with bot.sessions() as session:
            rows = list(await session.scalars(select(MessageRow).order_by(MessageRow.id)))
            cases = {c.id: c for c in await session.scalars(select(CaseRow))}
    routes = {row.subject or "(none)": (row.route, row.reason) for row in rows}
    assert all(route in ("new_case", "quarantined") for route, _ in routes.values()), routes
    for route, reason in routes.values():
        assert route == "new_case" or reason  # quarantined always says why
    by_sender = {cases[r.case_id].requester: r for r in rows if r.case_id is not None}
    assert "Ik wil inzage in mijn gegevens." in by_sender["html@example.nl"].body
    assert "<" not in by_sender["html@example.nl"].body
    assert "verwijder mij" in by_sender["broken@example.nl"].body
    assert "inzage" in by_sender["charset@example.nl"].body
    assert by_sender["charset@example.nl"].defects  # staff can see it was repaired
    assert by_sender["empty@example.nl"].body == ""
    assert by_sender["groot@example.nl"].attachments[0]["size"] == 30 * 1024 * 1024
    assert routes["no sender"] == ("quarantined", "no sender address")
    assert "normal@example.nl" in by_sender  # the worker went on after all of them


async def test_mail_over_the_size_limit_is_quarantined_and_left_in_the_mailbox(
    dovecot: DovecotServer, sqlite_url: str, tmp_path: Path
) -> None:
    msg = request_mail(sender="groot@example.nl", subject="te groot")
    msg.add_attachment(b"x" * 300_000, maintype="application", subtype="octet-stream")
    await asyncio.to_thread(dovecot.append, msg.as_bytes())
    settings = imap_settings(sqlite_url, tmp_path, dovecot)
    settings = settings.model_copy(
        update={"mail": settings.mail.model_copy(update={"max_message_bytes": 100_000})}
    )
    async with running_bot(settings) as bot:

        async def stored() -> bool:
            return await count_rows(bot, MessageRow) == 1

        await eventually(stored)
        async with bot.sessions() as session:
            [row] = await session.scalars(select(MessageRow))
    assert (row.route, row.subject, row.sender) == ("quarantined", "te groot", "groot@example.nl")
    assert row.reason is not None and "too large" in row.reason

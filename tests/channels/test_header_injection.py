"""Header injection through the whole path: a hostile request comes in as raw mail, the pipeline
opens its case, and the acknowledgement goes out over a real SMTP relay on loopback. Whatever
the sender's name, subject or headers hold (CR, LF, "Bcc:", RFC 2047 encoded words that decode
to line breaks, a second address), the relay gets one message, for the requester alone.

test_mail_out.py checks build_email on its own; this checks that nothing on the way undoes it.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.channels.mail_out import SmtpTransport
from dsr_bot.channels.mime import parse_mail
from dsr_bot.config import parse_server_url
from dsr_bot.nlp.classifier import Unclassified
from dsr_bot.replies import Replies
from dsr_bot.services.outbox import OutboxSender
from dsr_bot.services.pipeline import Pipeline
from dsr_bot.store import migrate
from dsr_bot.store.engine import create_engine
from tests.conftest import make_settings
from tests.servers.smtp_relay import SmtpRelay

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
REQUESTER = "jan@example.nl"
VICTIM = "victim@evil.example"


def _b64(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


NAME_CRLF = _b64(f"Jan\r\nCc: {VICTIM}\r\n")
SUBJECT_LF = _b64(f"Inzage\nBcc: {VICTIM}\n\nbody")
NAME_UNICODE = _b64(f"Jan\u2028Bcc: {VICTIM}\x85To: {VICTIM}")
SUBJECT_CONTROLS = _b64(f"Inzage\x0bBcc: {VICTIM}\x0c\x00\u2029Cc: {VICTIM}")

# (From, Subject, further header lines) as they stand in the raw mail.
HOSTILE: dict[str, tuple[str, str, list[str]]] = {
    "encoded CRLF in the name": (
        f"=?utf-8?q?Jan=0D=0ABcc:_{VICTIM}?= <{REQUESTER}>",
        "Inzage",
        [],
    ),
    "encoded CRLF in the subject": (
        f"Jan <{REQUESTER}>",
        f"=?utf-8?q?Inzage=0D=0ABcc:_{VICTIM}=0D=0ATo:_{VICTIM}?=",
        [],
    ),
    "base64 line breaks in name and subject": (
        f"{NAME_CRLF} <{REQUESTER}>",
        SUBJECT_LF,
        [],
    ),
    "Unicode line breaks and control characters": (
        f"{NAME_UNICODE} <{REQUESTER}>",
        SUBJECT_CONTROLS,
        [],
    ),
    "folded continuation lines": (
        f"Jan <{REQUESTER}>",
        f"Inzage\r\n Bcc: {VICTIM}\r\n\tTo: {VICTIM}",
        [],
    ),
    "a second sender, Cc, Bcc and Reply-To in the request": (
        f'"Jan" <{REQUESTER}>, {VICTIM}',
        "Inzage",
        [f"Cc: {VICTIM}", f"Bcc: {VICTIM}", f"Reply-To: {VICTIM}"],
    ),
}


def _raw(sender: str, subject: str, extra: list[str]) -> bytes:
    lines = [
        f"From: {sender}",
        "To: info@academiewerkendleren.nl",
        f"Subject: {subject}",
        "Message-ID: <hostile-1@example.nl>",
        "Date: Wed, 25 Nov 2026 09:00:00 +0000",
        *extra,
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Ik wil graag weten welke gegevens u van mij heeft.",
        "",
    ]
    return "\r\n".join(lines).encode()


@pytest.fixture
async def sessions(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(sqlite_url)
    await migrate.upgrade(engine)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


def _header_lines(mail: EmailMessage) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in mail.items():
        found.setdefault(name.lower(), []).append(str(value))
    return found


@pytest.mark.parametrize("case", HOSTILE)
async def test_the_acknowledgement_of_a_hostile_request_goes_to_the_requester_alone(
    case: str, sessions: async_sessionmaker[AsyncSession], sqlite_url: str, tmp_path: Path
) -> None:
    sender, subject, extra = HOSTILE[case]
    settings = make_settings(sqlite_url, tmp_path)
    pipeline = Pipeline(
        sessions=sessions,
        settings=settings,
        classifier=Unclassified(),
        replies=Replies(),
        clock=lambda: NOW,
    )
    [outcome] = await pipeline.ingest(
        [
            parse_mail(
                _raw(sender, subject, extra), source="info", external_id="1:1", received_at=NOW
            )
        ]
    )
    assert outcome.reference is not None  # a case, not a quarantine record

    with SmtpRelay() as relay:
        sender_loop = OutboxSender(
            sessions=sessions,
            transport=SmtpTransport(parse_server_url(f"smtp://127.0.0.1:{relay.port}", ("smtp",))),
            settings=settings.mail,
            clock=lambda: NOW,
        )
        assert await sender_loop.deliver_due() == 1
        [mail], [(_, recipients)] = relay.received, relay.envelopes

    assert recipients == [REQUESTER]
    headers = _header_lines(mail)
    assert headers["to"] == [REQUESTER]
    assert not {"cc", "bcc", "reply-to", "sender", "resent-to", "resent-bcc"} & set(headers)
    for name in ("from", "subject", "message-id", "date"):
        assert len(headers[name]) == 1, name
    assert [a.addr_spec for a in mail["from"].addresses] == [settings.mail.from_address]
    assert [a.addr_spec for a in mail["to"].addresses] == [REQUESTER]

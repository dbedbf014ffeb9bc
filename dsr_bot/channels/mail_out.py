"""Outgoing mail: building the message, and the two ways out (SMTP relay, local Maildir)."""

from __future__ import annotations

import asyncio
import mailbox
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import aiosmtplib

from dsr_bot.config import ServerUrl
from dsr_bot.domain.hygiene import header_safe
from dsr_bot.domain.outgoing import OutgoingMail
from dsr_bot.errors import DeliveryError

# Python folds an over-long unstructured header (In-Reply-To, References) by RFC 2047-encoding it,
# which breaks threading in the recipient's client; lines up to RFC 5322's 998 avoid that.
MAIL_POLICY = policy.default.clone(max_line_length=998)


def build_email(row: OutgoingMail) -> EmailMessage:
    """The outgoing mail as MIME; every header value is made single-line first."""
    msg = EmailMessage(policy=MAIL_POLICY)
    local, _, domain = row.sender.partition("@")
    msg["From"] = Address(display_name=header_safe(row.sender_name), username=local, domain=domain)
    msg["To"] = header_safe(row.recipient, 320)
    msg["Subject"] = header_safe(row.subject, 300)
    msg["Date"] = format_datetime(row.created_at)
    msg["Message-ID"] = row.message_id
    if row.in_reply_to:
        msg["In-Reply-To"] = header_safe(row.in_reply_to, 998)
    if row.references:
        msg["References"] = " ".join(header_safe(r, 998) for r in row.references)
    if row.auto_submitted:
        # RFC 3834: mark our automatic replies, and ask Exchange not to answer them with its own.
        msg["Auto-Submitted"] = row.auto_submitted
        msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(row.body, charset="utf-8")
    msg["Content-Language"] = row.language  # after set_content, which drops Content-* headers
    return msg


class MaildirTransport:
    """The embedded default: outgoing mail lands in a local Maildir, readable by any mail client."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, mail: OutgoingMail) -> None:
        message = build_email(mail)
        try:
            await asyncio.to_thread(self._add, message)
        except OSError as exc:
            raise DeliveryError(f"cannot write to {self.path}: {exc.strerror}") from None

    def _add(self, message: EmailMessage) -> None:
        mailbox.Maildir(self.path, create=True).add(message)


class SmtpTransport:
    def __init__(self, url: ServerUrl, timeout: float = 30.0) -> None:
        self._url = url
        self._timeout = timeout

    async def send(self, mail: OutgoingMail) -> None:
        message = build_email(mail)
        url = self._url
        try:
            await aiosmtplib.send(
                message,
                hostname=url.host,
                port=url.port,
                username=url.username or None,
                password=url.password or None,
                use_tls=url.scheme == "smtps",
                start_tls=None,  # STARTTLS when the server offers it
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError("relay refused the recipient", permanent=True) from exc
        except aiosmtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.code < 600
            raise DeliveryError(f"relay answered {exc.code}", permanent=permanent) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"relay unreachable ({type(exc).__name__})") from exc

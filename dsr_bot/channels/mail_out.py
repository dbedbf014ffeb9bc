"""Outgoing mail: building the message, and the two ways out (SMTP relay, local Maildir)."""

from __future__ import annotations

import asyncio
import mailbox
import re
from email import charset as email_charset
from email.header import Header
from email.message import Message
from email.policy import compat32
from email.utils import format_datetime, formataddr
from pathlib import Path

import aiosmtplib

from dsr_bot.config import ServerUrl
from dsr_bot.domain.hygiene import header_safe
from dsr_bot.domain.outgoing import OutgoingMail
from dsr_bot.errors import DeliveryError

# Quoted-printable keeps a Dutch text readable in the raw mail; base64 would not.
_UTF8_QP = email_charset.Charset("utf-8")
_UTF8_QP.body_encoding = email_charset.QP


# Header lines up to RFC 5322's 998 characters: a long Message-ID stays on its line.
MAX_LINE = 998
_POLICY = compat32.clone(max_line_length=MAX_LINE)


def _header(value: str) -> str:
    """ASCII as is; anything else RFC 2047-encoded."""
    return value if value.isascii() else Header(value, "utf-8").encode()


def build_email(mail: OutgoingMail) -> bytes:
    """The outgoing mail as RFC 5322 bytes; every header value is made single-line first.

    Usually written out directly: the stdlib's folding costs 0.16 ms a mail, as much as storing
    the request it answers. A mail with a header that needs folding or encoding goes through
    `stdlib_email`; both give the same bytes (tests/channels/test_mail_out.py holds them to it).
    """
    headers = _headers(mail)
    body = _UTF8_QP.body_encode(mail.body)
    if all(_plain(name, value) for name, value in headers):
        lines = [f"{name}: {value}\n" for name, value in headers]
        lines += ['Content-Type: text/plain; charset="utf-8"\n']
        lines += ["Content-Transfer-Encoding: quoted-printable\n", "\n", body]
        return "".join(lines).encode("ascii")
    return stdlib_email(headers, mail.body)


def stdlib_email(headers: list[tuple[str, str]], body: str) -> bytes:
    """The same mail through the email package's compat32 API.

    compat32 on purpose: the policy-based API is ten times slower here, and it RFC 2047-encodes
    over-long Message-IDs in In-Reply-To, which breaks threading.
    """
    msg: Message[str, str] = Message()
    for name, value in headers:
        msg[name] = value
    msg.set_payload(body, _UTF8_QP)  # also sets Content-Type and the transfer encoding
    return msg.as_bytes(policy=_POLICY)


def _headers(mail: OutgoingMail) -> list[tuple[str, str]]:
    headers = [
        ("MIME-Version", "1.0"),
        ("From", formataddr((header_safe(mail.sender_name), mail.sender), charset="utf-8")),
        ("To", header_safe(mail.recipient, 320)),
        ("Subject", _header(header_safe(mail.subject, 300))),
        ("Date", format_datetime(mail.created_at)),
        ("Message-ID", header_safe(mail.message_id, 998)),
    ]
    if mail.in_reply_to:
        headers.append(("In-Reply-To", header_safe(mail.in_reply_to, 998)))
    if mail.references:
        headers.append(("References", " ".join(header_safe(r, 998) for r in mail.references)))
    if mail.auto_submitted:
        # RFC 3834: mark our automatic replies, and ask Exchange not to answer them with its own.
        headers.append(("Auto-Submitted", mail.auto_submitted))
        headers.append(("X-Auto-Response-Suppress", "All"))
    headers.append(("Content-Language", mail.language))
    return headers


# Printable ASCII (header_safe has made every value one line, single spaces between words).
_PLAIN = re.compile(r"[ -~]*")


def _plain(name: str, value: str) -> bool:
    """A header value the stdlib would write as it is: no folding, no encoding."""
    return len(name) + 2 + len(value) <= MAX_LINE and bool(_PLAIN.fullmatch(value))


class MaildirTransport:
    """The embedded default: outgoing mail lands in a local Maildir, readable by any mail client."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._box: mailbox.Maildir | None = None

    async def send(self, mail: OutgoingMail) -> None:
        try:
            await asyncio.to_thread(self._add, mail)
        except OSError as exc:
            raise DeliveryError(f"cannot write to {self.path}: {exc.strerror}") from None

    def _add(self, mail: OutgoingMail) -> None:
        raw = build_email(mail)
        if self._box is None or not self.path.is_dir():
            # mailbox.Maildir creates only the last folder of the path; make the parents too.
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._box = mailbox.Maildir(self.path, create=True)
        self._box.add(raw)


class SmtpTransport:
    def __init__(self, url: ServerUrl, timeout: float = 30.0) -> None:
        self._url = url
        self._timeout = timeout

    async def send(self, mail: OutgoingMail) -> None:
        url = self._url
        try:
            await aiosmtplib.send(
                build_email(mail),
                sender=mail.sender,
                recipients=[mail.recipient],
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

"""Outgoing mail: building the message, and the two ways out (SMTP relay, local Maildir)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import mailbox
import os
import re
import secrets
import socket
import time
from email import charset as email_charset
from email.header import Header
from email.message import Message
from email.policy import compat32
from email.utils import format_datetime, formataddr
from pathlib import Path

import aiosmtplib

from dsr_bot.config import ServerUrl
from dsr_bot.domain.hygiene import header_safe
from dsr_bot.domain.outgoing import Attachment, OutgoingMail
from dsr_bot.errors import DeliveryError
from dsr_bot.replies import render_html

# The last part of a Maildir file name, with the two characters the format reserves escaped.
_HOST = socket.gethostname().replace("/", r"\057").replace(":", r"\072")
# Quoted-printable keeps a Dutch text readable in the raw mail; base64 would not.
_UTF8_QP = email_charset.Charset("utf-8")
_UTF8_QP.body_encoding = email_charset.QP


# Header lines up to RFC 5322's 998 characters: a long Message-ID stays on its line.
MAX_LINE = 998
_POLICY = compat32.clone(max_line_length=MAX_LINE)

_TEXT_PART = 'Content-Type: text/plain; charset="utf-8"\n'
_HTML_PART = 'Content-Type: text/html; charset="utf-8"\n'
_QP = "Content-Transfer-Encoding: quoted-printable\n"


def _header(value: str) -> str:
    """ASCII as is; anything else RFC 2047-encoded."""
    return value if value.isascii() else Header(value, "utf-8").encode()


def build_email(mail: OutgoingMail) -> bytes:
    """The outgoing mail as RFC 5322 bytes; every header value is made single-line first.

    multipart/alternative: the text staff approved (text/plain, as it was written) and the same
    text as HTML (replies.render_html, autoescaped). With attachments, that inside
    multipart/mixed, followed by each file.

    Usually written out directly: the email package takes 0.25-0.3 ms for an acknowledgement,
    written out it is 0.07-0.1 ms (of which 0.03-0.05 ms the HTML), less than storing the
    request it answers. A mail with attachments, or with a header that needs folding or
    encoding, goes through the email package; both give the same bytes
    (tests/channels/test_mail_out.py holds them to it).
    """
    headers = _headers(mail)
    html = _html(mail)
    if mail.attachments or not all(_plain(name, value) for name, value in headers):
        return _composed(headers, mail.body, html, mail.attachments, mail.message_id)
    boundary = _boundary("alt", mail.message_id)
    lines = [f"{name}: {value}\n" for name, value in headers]
    lines += [f'Content-Type: multipart/alternative; boundary="{boundary}"\n', "\n"]
    lines += [f"--{boundary}\n", _TEXT_PART, _QP, "\n", _UTF8_QP.body_encode(mail.body)]
    lines += [f"\n--{boundary}\n", _HTML_PART, _QP, "\n", html]
    lines += [f"\n--{boundary}--\n"]
    return "".join(lines).encode("ascii")


def stdlib_email(mail: OutgoingMail) -> bytes:
    """The same mail, always through the email package: what the direct path must match."""
    return _composed(_headers(mail), mail.body, _html(mail), mail.attachments, mail.message_id)


def _html(mail: OutgoingMail) -> str:
    """The HTML part, quoted-printable: binascii's encoder, in C, is four times faster than the
    email package's here (the HTML is half as long again as the text)."""
    html = render_html(mail.body, mail.language, title=" ".join(mail.subject.split()))
    return binascii.b2a_qp(html.encode("utf-8"), istext=True).decode("ascii")


# Hex digits as letters: nine digits in a row would read as a BSN to a scanner (ours included).
_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")


def _boundary(kind: str, message_id: str) -> str:
    """A boundary of this mail's own, the same at every resend (and in both ways of building).

    It starts with "=_", which neither quoted-printable ("=" is always followed by two hex
    digits or a line break) nor base64 can produce, so no part can contain it.
    """
    digest = hashlib.sha256(message_id.encode()).hexdigest()[:32]
    return f"=_{kind}_{digest.translate(_NO_DIGITS)}"


def _composed(
    headers: list[tuple[str, str]],
    text: str,
    html: str,
    attachments: tuple[Attachment, ...],
    message_id: str,
) -> bytes:
    """The mail through the email package's compat32 API.

    compat32 on purpose: the policy-based API is ten times slower here, and it RFC 2047-encodes
    over-long Message-IDs in In-Reply-To, which breaks threading. Parts are given their headers
    by hand: set_payload with a charset would add MIME-Version to each.
    """
    msg: Message[str, str] = Message()
    for name, value in headers:
        msg[name] = value
    alternative = Message() if attachments else msg
    alternative.add_header(
        "Content-Type", "multipart/alternative", boundary=_boundary("alt", message_id)
    )
    text_part = _qp_part("text/plain", _UTF8_QP.body_encode(text))
    alternative.set_payload([text_part, _qp_part("text/html", html)])
    if attachments:
        msg.add_header("Content-Type", "multipart/mixed", boundary=_boundary("mix", message_id))
        msg.set_payload([alternative, *(_attachment(a) for a in attachments)])
    return msg.as_bytes(policy=_POLICY)


def _qp_part(content_type: str, encoded: str) -> Message[str, str]:
    part: Message[str, str] = Message()
    part.add_header("Content-Type", content_type, charset="utf-8")
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(encoded)
    return part


# A MIME type as RFC 2045 spells one; anything else is sent as application/octet-stream.
_MIME_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")


def _attachment(attachment: Attachment) -> Message[str, str]:
    """A file, base64, with its name (RFC 2231-encoded when it is not ASCII)."""
    content_type = attachment.content_type
    if not _MIME_TYPE.fullmatch(content_type):
        content_type = "application/octet-stream"
    filename = _filename(attachment.filename)
    part: Message[str, str] = Message()
    part["Content-Type"] = content_type
    part["Content-Transfer-Encoding"] = "base64"
    if filename.isascii():
        part.add_header("Content-Disposition", "attachment", filename=filename)
    else:
        part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", filename))
    part.set_payload(base64.encodebytes(attachment.data).decode("ascii"))
    return part


# Bytes of UTF-8 in a file name: RFC 2231 writes each non-ASCII byte as three characters, and
# the header line must stay within 998.
_NAME_BYTES = 150


def _filename(name: str) -> str:
    """No folders and no line breaks (the receiving client decides where a file goes), short
    enough for one header line, with its extension kept."""
    name = header_safe(name.replace("\\", "/").rsplit("/", 1)[-1], 1000)
    stem, dot, extension = name.rpartition(".")
    if not stem or len(extension) > 10:
        stem, dot, extension = name, "", ""
    room = _NAME_BYTES - len(dot + extension)
    stem = stem.encode()[:room].decode("utf-8", "ignore").rstrip()
    return f"{stem}{dot}{extension}" if stem else "bijlage" + dot + extension


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
            self._box = mailbox.Maildir(self.path, create=True)  # its folders are 0700
        # Delivered as Maildir prescribes (write into tmp/, then move into new/), but by hand:
        # Maildir.add makes the file 0644 under the usual umask, and a mail holds personal data.
        name = f"{time.time_ns()}.{secrets.token_hex(8)}.{_HOST}"
        temporary = self.path / "tmp" / name
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(raw)
                out.flush()
                os.fsync(out.fileno())
            os.rename(temporary, self.path / "new" / name)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


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

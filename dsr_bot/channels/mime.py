"""Turn a raw RFC 5322 / MIME message into an InboundMessage.

Mail from the public is often broken (wrong charsets, bad boundaries, truncated base64). The parser
copes and records each problem as a short defect string. Defects name parts by their walk index
and say what went wrong; they never quote body text or filenames, because they end up in logs.
Only a message without any sender address, or empty input, raises MalformedMessage.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import email
import email.header
import email.policy
import email.utils
import functools
import html
import re
from dataclasses import dataclass
from datetime import datetime
from email import headerregistry
from email.errors import InvalidBase64LengthDefect
from email.message import Message

import charset_normalizer
from inscriptis import get_text

from dsr_bot.domain.bsn import mask_bsns
from dsr_bot.domain.identity import COPY_TYPES
from dsr_bot.domain.inbound import Attachment, Channel, InboundMessage
from dsr_bot.errors import MalformedMessage

# RFC 3834 and bulk-mail markers; the pipeline uses them to avoid answering robots.
_AUTO_HEADERS = (
    "auto-submitted",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-auto-response-suppress",
    "x-autoreply",
    "x-autorespond",
    "return-path",
    "feedback-id",
)
# Worst case bytes per character (UTF-8/UTF-32); bytes beyond this cannot fit in the text limit.
_BYTES_PER_CHAR = 4
# Markup inflates HTML, so it may bring more bytes per character of resulting text.
_HTML_BYTES_PER_CHAR = 16
_MAX_DEFECTS = 50
_MAX_HEADER_CHARS = 4000
_MAX_REFERENCES = 100
_MAX_BOUNDARY_GUESSES = 3
_REGISTRY = headerregistry.HeaderRegistry()


@functools.lru_cache(maxsize=1024)
def _cached_header(name: str, value: str) -> headerregistry.BaseHeader:
    return _REGISTRY(name, value)


def _header_factory(name: str, value: str) -> headerregistry.BaseHeader:
    # The parser and the Message API re-parse Content-Type on every access (~17 times per
    # message); parsed headers are immutable, so memoising them makes parsing ~4x faster.
    # Parse time grows faster than linearly with length, and no honest header is this long.
    return _cached_header(name, value[:_MAX_HEADER_CHARS])


# email.policy.default in every respect except the memoised header factory.
_POLICY = email.policy.default.clone(header_factory=_header_factory)
# Regenerating a forwarded message: compat32 re-emits headers as they came instead of refolding.
_WIRE_POLICY = email.policy.compat32.clone(linesep="\r\n")
_ID = re.compile(r"<([^<>\s]+)>")
_ID_SEPARATORS = re.compile(r"[\s<>,]+")
_ADDRESS = re.compile(r"[^@\s<>\x00-\x1f\x7f]+@[^@\s<>\x00-\x1f\x7f]+")
_ANGLED = re.compile(r"<([^<>\s]+@[^<>\s]+)>")
# `Name <addr>`, `<addr>` or `addr`, with none of the characters parseaddr treats specially:
# its answer is then plain to see, read at a sixth of its cost (parseaddr was a tenth of parsing
# a message). Half a million generated headers of this form got the same answer from both.
_PLAIN_ATOMS = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
_PLAIN_FROM = re.compile(
    rf"[ \t]*(?:(?P<name>[A-Za-z0-9'.-]+(?:[ \t]+[A-Za-z0-9'.-]+)*)[ \t]*)?"
    rf"<(?P<addr>{_PLAIN_ATOMS}@{_PLAIN_ATOMS})>[ \t]*"
    rf"|[ \t]*(?P<bare>{_PLAIN_ATOMS}@{_PLAIN_ATOMS})[ \t]*"
)
_BOUNDARY_LINE = re.compile(r"^--([0-9A-Za-z'()+_,\-./:=?]{1,70})[ \t]*\r?$", re.MULTILINE)
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
# Control characters become spaces in one-line values: CR/LF must not start a header or log line.
_CONTROLS = {code: " " for code in [*range(32), 127]}
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class MimeLimits:
    max_text_chars: int = 200_000  # text longer than this is cut, with a defect noted
    max_attachments: int = 50  # more are counted in a defect, not listed
    keep_attachment_types: frozenset[str] = frozenset()  # content types whose bytes are kept
    max_kept_attachment_bytes: int = 10 * 1024 * 1024  # larger ones: metadata only, defect noted


# ID copies are kept (as sent) until the pipeline has stored them encrypted for checking.
DEFAULT_LIMITS = MimeLimits(keep_attachment_types=COPY_TYPES)


def parse_mail(
    raw: bytes,
    *,
    source: str,
    external_id: str,
    received_at: datetime,
    envelope_from: str | None = None,
    limits: MimeLimits = DEFAULT_LIMITS,
) -> InboundMessage:
    """Parse one raw message; raises MalformedMessage only for empty input or no sender at all."""
    if not raw or raw.isspace():  # isspace stops at the first byte of content; strip would copy
        raise MalformedMessage("empty message")
    try:
        msg = email.message_from_bytes(raw, policy=_POLICY)
    except Exception as exc:  # the feed parser is lenient by design; this is for the unforeseen
        raise MalformedMessage(f"unparseable message ({type(exc).__name__})") from exc
    defects: list[str] = []
    raw_headers: dict[str, str] = {}
    for name, value in msg.raw_items():
        raw_headers.setdefault(name.lower(), value)
        if len(value) > _MAX_HEADER_CHARS:
            defects.append(
                f"{_label(name)} header over {_MAX_HEADER_CHARS} characters, read in part"
            )

    def header(name: str) -> str | None:
        if name not in raw_headers:
            return None
        try:
            return str(msg.get(name, ""))
        except Exception as exc:  # the header parser raises on some garbage; use the raw text
            defects.append(f"{name} header unreadable ({type(exc).__name__}), raw value used")
            raw_value = raw_headers[name].encode("utf-8", "surrogateescape")
            return raw_value.decode("utf-8", "replace")

    sender, sender_name = _sender(msg, raw_headers.get("from"), defects)
    if sender is None:
        sender = _address(envelope_from) or _address(header("return-path"))
        sender_name = None
    if sender is None:
        raise MalformedMessage("no sender address")

    walker = _Walker(limits, defects)
    walker.walk(msg)
    text = walker.text()
    defects = list(dict.fromkeys([*defects, *walker.part_defects()]))
    if len(defects) > _MAX_DEFECTS:
        defects[_MAX_DEFECTS - 1 :] = [f"{len(defects) - _MAX_DEFECTS + 1} more defects not listed"]

    ids = {
        name: _ids(raw_headers.get(name)) for name in ("message-id", "in-reply-to", "references")
    }
    auto = {name: _one_line(value) for name in _AUTO_HEADERS if (value := header(name)) is not None}
    return InboundMessage(
        channel=Channel.EMAIL,
        source=source,
        external_id=external_id,
        sender=sender,
        sender_name=sender_name,
        subject=_one_line(header("subject") or ""),
        text=text,
        received_at=received_at,
        message_id=ids["message-id"][0] if ids["message-id"] else None,
        in_reply_to=ids["in-reply-to"][0] if ids["in-reply-to"] else None,
        references=_trim(tuple(dict.fromkeys(ids["references"]))),
        attachments=tuple(walker.attachments),
        auto_headers=auto,
        defects=tuple(defects),
    )


def _sender(
    msg: Message, raw_from: str | None, defects: list[str]
) -> tuple[str | None, str | None]:
    if raw_from is None:
        return None, None
    if fast := _simple_sender(raw_from):
        return fast
    try:
        for item in getattr(msg.get("from"), "addresses", ()):
            if (address := _usable(item.addr_spec)) is not None:
                return address, _one_line(item.display_name) or None
    except Exception as exc:  # fall back to the lenient parseaddr below
        defects.append(f"from header unreadable ({type(exc).__name__}), parsed loosely")
    name, addr = _parseaddr(raw_from)
    # parseaddr can take text from the name for the address: "=?utf-8?q?Jan=0D=0ABcc:_x@evil?=
    # <jan@example.nl>" (a name that decodes to a line break, which the full parser refuses)
    # gives "x@evil?=". The address in angle brackets is the one mail clients show as sender.
    if angled := _ANGLED.findall(raw_from[:_MAX_HEADER_CHARS]):
        addr = angled[-1]
    address = _usable(addr)
    return (address, _one_line(name) or None) if address else (None, None)


def _simple_sender(raw_from: str) -> tuple[str, str | None] | None:
    """The common one-address From without comments, read without the stdlib's structured parser,
    which costs more than the rest of the message together. Anything else returns None."""
    if "(" in raw_from or "," in raw_from or raw_from.count("@") != 1 or "\\" in raw_from:
        return None
    if plain := _PLAIN_FROM.fullmatch(raw_from):
        name, addr = plain["name"] or "", plain["addr"] or plain["bare"]
    else:
        name, addr = email.utils.parseaddr(raw_from)
    address = _usable(addr)
    if address is None:
        return None
    if "=?" in name:
        try:
            name = str(email.header.make_header(email.header.decode_header(name)))
        except Exception:
            return None  # let the full parser and its defect reporting deal with it
    return address, _one_line(name) or None


def _address(value: str | None) -> str | None:
    return _usable(_parseaddr(value)[1]) if value else None


def _parseaddr(value: str) -> tuple[str, str]:
    try:
        return email.utils.parseaddr(value[:_MAX_HEADER_CHARS])
    except RecursionError:  # nested comments: parseaddr recurses once per "("
        return "", ""


def _usable(addr: str) -> str | None:
    address = _unicode(addr).strip().strip("<>").lower()
    return address if _ADDRESS.fullmatch(address) else None


def _trim(references: tuple[str, ...]) -> tuple[str, ...]:
    if len(references) <= _MAX_REFERENCES:
        return references
    # Like RFC 5322 3.6.4 trimming: the thread root and the most recent ancestors matter.
    return references[:1] + references[-(_MAX_REFERENCES - 1) :]


def _one_line(value: str) -> str:
    return " ".join(_unicode(value).translate(_CONTROLS).split())


def _unicode(value: str) -> str:
    """Text a database can store. The email package carries undecodable header bytes as lone
    surrogates (surrogateescape); read them as UTF-8, and anything else as U+FFFD."""
    if _SURROGATE.search(value) is None:
        return value
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte
        return _SURROGATE.sub("\ufffd", value)


def _ids(value: str | None) -> list[str]:
    if not value:
        return []
    value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    value = value.replace("\x00", "")  # PostgreSQL refuses a NUL that SQLite would store
    if "=?" in value:
        # Python's own generator RFC 2047-encodes a long In-Reply-To; undo that before parsing.
        with contextlib.suppress(Exception):
            value = str(email.header.make_header(email.header.decode_header(value)))
    found = _ID.findall(value) or [token for token in _ID_SEPARATORS.split(value) if token]
    return [f"<{token}>" for token in found]


class _Walker:
    """One pass over the MIME tree: sorts leaves into text candidates and attachments."""

    def __init__(self, limits: MimeLimits, defects: list[str]) -> None:
        self.limits = limits
        self.defects = defects
        self.plain: list[tuple[int, Message]] = []
        self.html: list[tuple[int, Message]] = []
        self.attachments: list[Attachment] = []
        self.visited: list[tuple[int, Message]] = []
        self.unlisted = 0
        self.guesses = 0

    def walk(self, root: Message) -> None:
        stack = [root]  # explicit stack: deep nesting must not hit the recursion limit
        while stack:
            part = stack.pop()
            index = len(self.visited)
            self.visited.append((index, part))
            try:
                stack.extend(reversed(self._visit(index, part)))
            except Exception as exc:  # one unreadable part must not lose the rest of the message
                self.defects.append(f"part {index}: unreadable ({type(exc).__name__}), skipped")
        if self.unlisted:
            self.defects.append(
                f"{self.unlisted} attachments beyond the limit of {self.limits.max_attachments}"
                " not listed"
            )

    def _visit(self, index: int, part: Message) -> list[Message]:
        ctype = part.get_content_type()
        maintype, subtype = ctype.split("/", 1)
        if maintype == "multipart":
            if part.is_multipart():
                return list(part.get_payload())
            guessed = self._guess_boundary(part, ctype)
            if guessed is not None:
                self.defects.append(f"part {index}: multipart boundary wrong, guessed from body")
                return list(guessed.get_payload())
            self.defects.append(f"part {index}: multipart without usable boundary, read as text")
            self.plain.append((index, part))
        elif maintype == "message":  # forwarded mail or bounce report: listed, never merged
            self._attach(index, part, ctype)
        elif (
            maintype == "text"
            and subtype in ("plain", "html")
            and part.get_content_disposition() != "attachment"
        ):
            (self.plain if subtype == "plain" else self.html).append((index, part))
        else:
            self._attach(index, part, ctype)
        return []

    def _guess_boundary(self, part: Message, ctype: str) -> Message | None:
        payload = part.get_payload()
        if self.guesses >= _MAX_BOUNDARY_GUESSES or not isinstance(payload, str):
            return None
        self.guesses += 1
        match = _BOUNDARY_LINE.search(payload)
        if match is None:
            return None
        head = f'Content-Type: {ctype}; boundary="{match.group(1)}"\r\n\r\n'.encode("ascii")
        body = payload.encode("utf-8", "surrogateescape")
        guessed = email.message_from_bytes(head + body, policy=_POLICY)
        return guessed if guessed.is_multipart() else None

    def _attach(self, index: int, part: Message, ctype: str) -> None:
        if len(self.attachments) >= self.limits.max_attachments:
            self.unlisted += 1  # counted only: not even decoded
            return
        if ctype.startswith("message/"):
            try:
                data = _message_bytes(part)
            except Exception as exc:  # the generator can fail on odd headers; still list the part
                self.defects.append(
                    f"part {index}: message not re-encodable ({type(exc).__name__})"
                )
                data = b""
        else:
            data = self._payload(part, index)
        content = None
        if ctype in self.limits.keep_attachment_types:
            if len(data) <= self.limits.max_kept_attachment_bytes:
                content = data
            else:
                self.defects.append(f"part {index}: {ctype} too large to keep, content dropped")
        self.attachments.append(Attachment(_filename(part), ctype, len(data), content))

    def _payload(self, part: Message, index: int) -> bytes:
        try:
            data = part.get_payload(decode=True)
        except Exception as exc:  # e.g. a garbled Content-Transfer-Encoding header
            self.defects.append(f"part {index}: payload undecodable ({type(exc).__name__})")
            return b""
        if not isinstance(data, bytes):
            return b""
        if any(isinstance(defect, InvalidBase64LengthDefect) for defect in part.defects):
            # The stdlib then returns the still-encoded text; drop the dangling character instead.
            encoded = _NOT_BASE64.sub(b"", data)
            return base64.b64decode(encoded[: len(encoded) // 4 * 4])
        return data

    def text(self) -> str:
        # HTML is converted only when no plain part has text: inscriptis is the slow step.
        text, cut = self._join(self.plain, as_html=False)
        if not text and self.html:
            text, cut = self._join(self.html, as_html=True)
        if cut:
            self.defects.append(f"text cut to {self.limits.max_text_chars} characters")
        return text

    def _join(self, parts: list[tuple[int, Message]], *, as_html: bool) -> tuple[str, bool]:
        limit = self.limits.max_text_chars
        chunks: list[str] = []
        total = 0
        cut = False
        for index, part in parts:
            room = limit - total
            if room <= 0:
                return "\n\n".join(chunks)[:limit], True
            try:
                chunk, part_cut = self._part_text(index, part, room, as_html=as_html)
            except Exception as exc:  # keep the text of the other parts
                self.defects.append(f"part {index}: text unreadable ({type(exc).__name__})")
                continue
            cut = cut or part_cut
            if chunk:
                chunks.append(chunk)
                total += len(chunk) + 2
        text = "\n\n".join(chunks)
        if len(text) > limit:
            text, cut = text[:limit].rstrip(), True
        return text, cut

    def _part_text(
        self, index: int, part: Message, room: int, *, as_html: bool
    ) -> tuple[str, bool]:
        data = self._payload(part, index)
        max_bytes = room * (_HTML_BYTES_PER_CHAR if as_html else _BYTES_PER_CHAR)
        complete = len(data) <= max_bytes
        data = data if complete else data[:max_bytes]  # never decode what would be cut anyway
        where = f"part {index}"
        charset = part.get_content_charset()
        text = _decode(data, charset, final=complete, where=where, defects=self.defects)
        if as_html:
            text = _html_text(text, where, self.defects)
        text = _unicode(text).replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
        return "\n".join(line.rstrip() for line in text.split("\n")).strip(), not complete

    def part_defects(self) -> list[str]:
        found: list[str] = []
        for index, part in self.visited:
            for defect in part.defects:
                words = _CAMEL.sub(" ", type(defect).__name__.removesuffix("Defect")).lower()
                found.append(f"part {index}: {words}")
        return found


def _message_bytes(part: Message) -> bytes:
    payload = part.get_payload()
    items = payload if isinstance(payload, list) else [payload]
    chunks = []
    for item in items:
        if isinstance(item, Message):
            chunks.append(item.as_bytes(policy=_WIRE_POLICY))
        else:
            chunks.append(str(item).encode("utf-8", "surrogateescape"))
    return b"\r\n".join(chunks)


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # an unparseable Content-Disposition: list the attachment without a name
        return None
    if not name:
        return None
    if "=?" in name:  # RFC 2047 inside a parameter: not standard, but common
        with contextlib.suppress(Exception):  # keep the undecoded name rather than lose it
            name = str(email.header.make_header(email.header.decode_header(name)))
    return _one_line(name) or None


def _codec(label: str) -> str | None:
    try:
        name = codecs.lookup(label).name
        b"".decode(name)  # rejects bytes-to-bytes codecs such as base64 or zlib
    except (LookupError, ValueError):
        return None
    return name


def _decode(
    data: bytes, charset: str | None, *, final: bool, where: str, defects: list[str]
) -> str:
    declared = _codec(charset) if charset else "ascii"
    name = "utf-8" if declared in (None, "ascii") else declared  # UTF-8 is what 8-bit senders mean
    # Senders that say ISO-8859-1 mostly mean windows-1252 (the euro sign), as browsers assume.
    for attempt in ("cp1252", "latin-1") if name == "iso8859-1" else (name,):
        try:
            text = codecs.getincrementaldecoder(attempt)().decode(data, final=final)
        except UnicodeError:
            continue
        if declared is None:
            defects.append(f"{where}: unknown charset {_label(charset)}, decoded as utf-8")
        return text
    problem = "unknown charset" if declared is None else "bytes do not fit charset"
    problem = f"{where}: {problem} {_label(charset or 'us-ascii')}"
    best = charset_normalizer.from_bytes(data).best()  # slow: only after the cheap decode failed
    if best is not None:
        defects.append(f"{problem}, decoded as {best.encoding} (guessed)")
        return str(best)
    defects.append(f"{problem}, decoded as utf-8 with replacement")
    return data.decode("utf-8", "replace")


def _label(charset: str | None) -> str:
    # Sender-controlled: short and printable in logs, and masked, since defects are stored.
    return ascii(mask_bsns((charset or "")[:40]))


def _html_text(markup: str, where: str, defects: list[str]) -> str:
    try:
        return str(get_text(markup))
    except Exception as exc:  # inscriptis/lxml choke on some garbage; strip tags crudely instead
        defects.append(f"{where}: html not convertible ({type(exc).__name__}), tags stripped")
        return html.unescape(re.sub(r"<[^<>]*>", " ", markup))  # [^<>]: linear on "<<<<"

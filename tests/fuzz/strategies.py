"""Hypothesis strategies for hostile mail: raw RFC 5322 bytes, from nearly right to pure noise.

Messages are built as a tree of MIME parts with odd headers, charsets, boundaries and transfer
encodings, then damaged at the byte level (truncated, bytes flipped, CR/LF/NUL inserted). Each
stays within a few KB, so ten thousand parse in about a minute.
"""

from __future__ import annotations

import base64
import functools
import quopri

from hypothesis import strategies as st

# Real BSNs (they pass the elfproef), written in every form mask_bsns must catch.
BSNS = ("123456782", "111222333", "232262536", "271828183", "314159265")
# Planted in body text and filenames: a defect string must never quote it.
MARKER = "Geheimwoord123"

_WORDS = (
    "Beste",
    "inzage",
    "gegevens",
    "verwijder",
    "mijn",
    "BSN",
    "burgerservicenummer",
    "please",
    "delete",
    "my data",
    "Groet,",
    "Jan",
    "café",
    "€",
    "ß",
    "Ünïcödé",
    "日本語",
    "🙂",
    "AVG-2026-0001",
    "[AVG-2026-0002]",
    "IBAN NL91ABNA0417164300",
    MARKER,
)
_CHARSETS = (
    "utf-8",
    "UTF-8",
    "us-ascii",
    "iso-8859-1",
    "windows-1252",
    "iso-8859-15",
    "koi8-r",
    "shift_jis",
    "gb2312",
    "utf-16",
    "utf-32",
    "utf-7",
    "x-unknown",
    "x-klingon-7",
    "base64",  # a bytes-to-bytes codec: must not be used to decode
    "zlib_codec",
    "rot13",
    "",
    "123456782",  # a BSN where only a charset should be
    "utf-8\x00",
    '"utf-8',
    "unicode-1-1-utf-7",
    "cp65001",
    "x" * 300,
)
_ENCODINGS = (
    "7bit",
    "8bit",
    "binary",
    "base64",
    "BASE64",
    "quoted-printable",
    "Quoted-Printable",
    "x-uuencode",
    "uuencode",
    "x-gzip",
    "garbage",
    "base64 ",
    "",
)
# Byte sequences that decoders handle badly: a lone surrogate in UTF-7 and in UTF-8 (CESU),
# byte-order marks, NULs, a broken quoted-printable soft break, an overlong UTF-8 slash.
_HOSTILE_BYTES = (
    b"+2AA-",
    b"\xed\xa0\x80",
    b"\xff\xfe\x00\xd8",
    b"\xef\xbb\xbf",
    b"\x00\x00",
    b"=\r\n=XX=",
    b"\xc0\xaf",
)
_TYPES = (
    "application/pdf",
    "application/octet-stream",
    "image/jpeg",
    "image/png",
    "text/calendar",
    "text/x-unknown",
    "audio/wav",
    "application/vnd.ms-tnef",
    "nonsense",
    "/",
    "text/",
    "image/123456782",
)
_FILENAMES = (
    "paspoort.jpg",
    "../../etc/passwd",
    "a\x00b.pdf",
    "naam met spaties.pdf",
    "",
    "x" * 400 + ".png",
    "=?utf-8?b?cGFzcG9vcnQuanBn?=",
    "=?utf-8?q?id=20kaart.png?=",
    "=?bogus?x?garbage?=",
    "CON",
    ".pdf",
    "日本語.pdf",
    "bsn 123456782.pdf",
    f"{MARKER}.pdf",
    'quote".pdf',
    "new\r\nline.pdf",
)
_ADDRESSES = (
    "jan@example.nl",
    "Jan.De.Vries@Example.NL",
    "piet+avg@example.org",
    "mailer-daemon@mx.example.nl",
    "no-reply@example.com",
    "info@academiewerkendleren.nl",
    "111222333@student.example.nl",
    "a@b",
    "@example.nl",
    "jan@",
    "jan",
    "",
    '"quoted local"@example.nl',
    "jan@[127.0.0.1]",
    "ján@exämple.nl",
)
_SEPARATORS = (" ", "\n", "\r\n", "\t", ". ", ", ", "", "-", ".")
_HEADER_NAMES = (
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Return-Path",
    "Auto-Submitted",
    "Precedence",
    "List-Id",
    "X-Autoreply",
    "MIME-Version",
    "Reply-To",
    "Sender",
    "X-Mailer",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "X-Weird Name",
    "",
)


def _crlf(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


@st.composite
def bsn(draw: st.DrawFn) -> str:
    """A real BSN, plain or grouped 3-3-3 / 4-2-3 with one kind of separator."""
    digits = draw(st.sampled_from(BSNS))
    form = draw(st.sampled_from(("plain", "333", "423")))
    if form == "plain":
        return digits
    sep = draw(st.sampled_from((" ", ".", "-")))
    if form == "333":
        return sep.join((digits[:3], digits[3:6], digits[6:]))
    return sep.join((digits[:4], digits[4:6], digits[6:]))


_fragment = st.one_of(
    st.sampled_from(_WORDS),
    bsn(),
    st.text(max_size=8),
    st.integers(min_value=0, max_value=10**12).map(str),
    # A very long line: cheap to draw, costly for naive line handling.
    st.tuples(st.sampled_from("x= -\u00e9<"), st.integers(500, 1500)).map(lambda t: t[0] * t[1]),
)


@functools.cache
def free_text(max_fragments: int = 8) -> st.SearchStrategy[str]:
    return _free_text(max_fragments)


@st.composite
def _free_text(draw: st.DrawFn, max_fragments: int) -> str:
    """What a person writes: words, BSNs, numbers, odd Unicode, now and then a very long line."""
    parts = draw(st.lists(_fragment, max_size=max_fragments))
    if draw(st.integers(0, 3)):  # mostly one separator throughout: fewer draws, same reach
        return draw(st.sampled_from(_SEPARATORS)).join(parts)
    return "".join(part + draw(st.sampled_from(_SEPARATORS)) for part in parts)


@st.composite
def encoded_word(draw: st.DrawFn) -> str:
    """RFC 2047, well-formed or not."""
    text = draw(free_text(max_fragments=3))
    charset = draw(st.sampled_from(("utf-8", "iso-8859-1", "x-unknown", "", "utf-16")))
    codec = draw(st.sampled_from(("B", "Q", "b", "q", "X")))
    raw = text.encode("utf-8", "surrogatepass")
    if codec in "Bb":
        payload = base64.b64encode(raw).decode("ascii")
        if draw(st.booleans()):
            payload = payload[: draw(st.integers(0, len(payload)))]  # broken padding
    else:
        payload = quopri.encodestring(raw, header=True).decode("ascii")
    return f"=?{charset}?{codec}?{payload}?="


_ENCODED_WORD = encoded_word()
_HEADER_TEXT = st.one_of(free_text(max_fragments=4), _ENCODED_WORD)
_NAME = st.one_of(st.just(""), free_text(max_fragments=3), _ENCODED_WORD)


@st.composite
def message_id(draw: st.DrawFn) -> str:
    local = draw(st.sampled_from(("a1", "x.y", "AVG-2026-0001.abcd", "123456782", "", "l" * 1200)))
    unique = draw(st.integers(0, 50))  # few values: duplicates across a batch happen
    domain = draw(st.sampled_from(("example.nl", "academiewerkendleren.nl", "", "[1.2.3.4]")))
    form = draw(st.sampled_from(("<{}{}@{}>", "{}{}@{}", "<{}{}@{}", "<{}{}@{}> (comment)")))
    return form.format(local, unique, domain)


@st.composite
def sender(draw: st.DrawFn) -> str:
    address = draw(st.sampled_from(_ADDRESSES))
    name = draw(_NAME)
    form = draw(
        st.sampled_from(
            (
                "{n} <{a}>",
                "{a}",
                "<{a}>",
                '"{n}" <{a}>',
                "{a} ({n})",
                "{n} <{a}>, other@example.org",
                "undisclosed-recipients:;",
                "{n} ((((((((((nested <{a}>",
                "{n}",
                "<{a}> <{a}>",
            )
        )
    )
    return form.format(n=name, a=address)


_SENDER = sender()
_MESSAGE_ID = message_id()


@st.composite
def top_headers(draw: st.DrawFn) -> list[tuple[str, str]]:
    """The message's own headers; some missing, some twice, some garbage."""
    headers: list[tuple[str, str]] = []
    if draw(st.integers(0, 9)):  # mostly a From
        headers.append(("From", draw(_SENDER)))
    if draw(st.booleans()):
        headers.append(("To", draw(_SENDER)))
    if draw(st.integers(0, 5)):
        subject = draw(_HEADER_TEXT)
        if draw(st.booleans()):
            subject = f"Re: {subject} [AVG-2026-{draw(st.integers(1, 40)):04d}]"
        headers.append(("Subject", subject))
    if draw(st.booleans()):
        headers.append(
            (
                "Date",
                draw(
                    st.sampled_from(
                        (
                            "Wed, 25 Nov 2026 09:00:00 +0100",
                            "yesterday",
                            "Mon, 32 Foo 99999 99:99:99 +9999",
                            "",
                        )
                    )
                ),
            )
        )
    if draw(st.integers(0, 3)):
        headers.append(("Message-ID", draw(_MESSAGE_ID)))
    if draw(st.booleans()):
        headers.append(("In-Reply-To", draw(_MESSAGE_ID)))
    if draw(st.booleans()):
        ids = draw(st.lists(_MESSAGE_ID, max_size=8))
        repeat = draw(st.sampled_from((1, 1, 1, 40)))  # now and then a huge References
        headers.append(("References", " ".join(ids * repeat)))
    extra = st.tuples(
        st.sampled_from(_HEADER_NAMES),
        st.one_of(
            _HEADER_TEXT,
            st.sampled_from(("auto-replied", "no", "bulk", "<>", "<list.example.nl>")),
        ),
    )
    headers += draw(st.lists(extra, max_size=4))
    return headers


def _header_block(headers: list[tuple[str, str]]) -> str:
    return "".join(f"{name}: {value}\r\n" for name, value in headers)


def _encode_body(draw: st.DrawFn, data: bytes) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding value, body bytes), sometimes not what the header claims."""
    cte = draw(st.sampled_from(_ENCODINGS))
    honest = draw(st.integers(0, 3))  # mostly encoded as declared
    if cte.strip().lower() == "base64" and honest:
        body = base64.encodebytes(data)
        if draw(st.booleans()):
            body = body[: draw(st.integers(0, len(body)))]  # truncated base64
        return cte, body
    if cte.lower() == "quoted-printable" and honest:
        return cte, quopri.encodestring(data)
    return cte, data


def _content_type(draw: st.DrawFn, mime: str) -> str:
    params = ""
    if draw(st.integers(0, 3)):
        params += f"; charset={draw(st.sampled_from(_CHARSETS))}"
    if draw(st.booleans()):
        params += f'; name="{draw(st.sampled_from(_FILENAMES))}"'
    return mime + params


@st.composite
def text_part(draw: st.DrawFn) -> bytes:
    html = draw(st.integers(0, 3)) == 0
    text = draw(free_text())
    if html:
        tag = draw(st.sampled_from(("p", "b", "div", "script", "style", "table", "<<", "!--")))
        text = f"<html><body><{tag}>{text}</{tag}><br>&amp;&#8364;&bogus;</body>"
    charset = draw(st.sampled_from(_CHARSETS))
    codec = charset.strip('"\x00') or "utf-8"
    try:
        data = text.encode(codec, "replace")
    except (LookupError, TypeError, ValueError):  # not a text codec: send UTF-8 anyway
        data = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 4)) == 0:
        data += draw(st.one_of(st.binary(max_size=64), st.sampled_from(_HOSTILE_BYTES)))
    cte, body = _encode_body(draw, data)
    headers = [("Content-Type", f"text/{'html' if html else 'plain'}; charset={charset}")]
    if cte or draw(st.booleans()):
        headers.append(("Content-Transfer-Encoding", cte))
    if draw(st.integers(0, 5)) == 0:
        headers.append(("Content-Disposition", "attachment"))
    return _crlf(_header_block(headers)) + b"\r\n" + body


@st.composite
def attachment_part(draw: st.DrawFn) -> bytes:
    mime = draw(st.sampled_from(_TYPES))
    filename = draw(st.sampled_from(_FILENAMES))
    disposition = draw(
        st.sampled_from(
            (
                f'attachment; filename="{filename}"',
                f"attachment; filename={filename}",
                f"attachment; filename*=utf-8''{filename.replace(' ', '%20')}.pdf",
                f'attachment; filename*0="{filename[:5]}"; filename*1="{filename[5:]}"',
                "attachment",
                "inline",
                "attachment; filename=",
                'attachment; filename="unterminated',
                "garbage;;;=",
            )
        )
    )
    prefix = draw(st.sampled_from((b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"%PDF-1.4\n", b"")))
    data = prefix + draw(st.binary(max_size=300))
    cte, body = _encode_body(draw, data)
    headers = [
        ("Content-Type", _content_type(draw, mime)),
        ("Content-Disposition", disposition),
        ("Content-Transfer-Encoding", cte),
    ]
    return _crlf(_header_block(headers)) + b"\r\n" + body


_BOUNDARIES = st.one_of(
    st.sampled_from(("b1", "=_abc", "----=_Part_0_123.456", "x" * 75, "a b", "'()+_,-./:=?", "")),
    st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), min_size=1, max_size=20),
)


@st.composite
def multipart(draw: st.DrawFn, depth: int) -> bytes:
    """A multipart whose boundary may be missing, wrong, reused by a child or never closed."""
    subtype = draw(st.sampled_from(("mixed", "alternative", "related", "signed", "report", "x")))
    boundary = draw(_BOUNDARIES)
    children = draw(st.lists(mime_part(depth + 1), max_size=4))
    declared = draw(
        st.sampled_from(
            (
                f'; boundary="{boundary}"',
                f"; boundary={boundary}",
                "",  # no boundary at all
                '; boundary="other"',  # declared one, body uses another
                f'; boundary="{boundary}"; boundary="dup"',
            )
        )
    )
    body = draw(st.sampled_from((b"", b"This is a multi-part message in MIME format.\r\n")))
    for child in children:
        body += b"--" + _crlf(boundary) + b"\r\n" + child + b"\r\n"
    if draw(st.integers(0, 3)):  # mostly closed
        body += b"--" + _crlf(boundary) + b"--\r\n"
    if draw(st.booleans()):
        body += _crlf(draw(free_text(max_fragments=3)))  # an epilogue
    head = _header_block([("Content-Type", f"multipart/{subtype}{declared}")])
    return _crlf(head) + b"\r\n" + body


@st.composite
def forwarded(draw: st.DrawFn, depth: int) -> bytes:
    inner = draw(message_at(depth + 1))
    head = _header_block([("Content-Type", draw(st.sampled_from(_FORWARD_TYPES)))])
    return _crlf(head) + b"\r\n" + inner


_FORWARD_TYPES = ("message/rfc822", "message/delivery-status", "message/partial", "message/x")


@functools.cache
def mime_part(depth: int) -> st.SearchStrategy[bytes]:
    leaves = [text_part(), attachment_part()]
    if depth >= 3:
        return st.one_of(*leaves)
    return st.one_of(*leaves, multipart(depth), forwarded(depth))


_TOP_HEADERS = top_headers()


@functools.cache
def message_at(depth: int) -> st.SearchStrategy[bytes]:
    return _message(depth)


@st.composite
def _message(draw: st.DrawFn, depth: int) -> bytes:
    """One structured message: top headers, then a body part (a leaf or a tree)."""
    head = _crlf(_header_block(draw(_TOP_HEADERS)))
    if draw(st.booleans()):
        head += b"MIME-Version: 1.0\r\n"
    kind = draw(st.integers(0, 9))
    if kind == 0:  # no MIME headers at all, maybe no body
        return head + b"\r\n" + _crlf(draw(free_text()))
    if kind == 1:  # headers only
        return head
    return head + draw(mime_part(depth))


@st.composite
def damaged_message(draw: st.DrawFn) -> bytes:
    """A structured message with byte-level damage, as transfers and broken clients cause it."""
    data = bytearray(draw(message_at(0)))
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(("truncate", "flip", "insert", "lf")))
        if action == "truncate":
            del data[where:]
        elif action == "flip" and where < len(data):
            data[where] ^= draw(st.integers(1, 255))
        elif action == "insert":
            data[where:where] = draw(st.sampled_from((b"\r", b"\n", b"\r\n", b"\x00", b"\r\n\r\n")))
        elif action == "lf":  # a client that writes bare LF
            data = bytearray(bytes(data).replace(b"\r\n", b"\n"))
    return bytes(data)


def raw_mail() -> st.SearchStrategy[bytes]:
    """What a mailbox may hold: mostly structured mail, some of it damaged, some pure noise."""
    return st.one_of(
        message_at(0),
        damaged_message(),
        st.binary(max_size=2000),
        st.binary(max_size=1000).map(lambda noise: b"From: noise@example.nl\r\n" + noise),
    )

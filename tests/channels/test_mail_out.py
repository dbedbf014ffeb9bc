"""Outgoing mail: threading, RFC 3834 marking, no header injection, text plus HTML, attachments."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dsr_bot.channels.mail_out import MaildirTransport, build_email, stdlib_email
from dsr_bot.domain.outgoing import Attachment, OutgoingMail, new_message_id
from dsr_bot.replies import render_html


def _mail(**changes: object) -> OutgoingMail:
    values: dict[str, object] = {
        "sender": "info@academiewerkendleren.nl",
        "sender_name": "Academie Werkend Leren",
        "recipient": "jan@example.nl",
        "subject": "Wij hebben uw bericht ontvangen [AVG-2026-0001]",
        "body": "Beste Jan,\n\nDank u wel.\n",
        "language": "nl",
        "message_id": new_message_id("AVG-2026-0001", "academiewerkendleren.nl"),
        "created_at": datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        "in_reply_to": "<a-very-long-message-id-from-a-big-provider.1234567890@mail.example.nl>",
        "references": ("<x@example.nl>",),
        "auto_submitted": "auto-replied",
    }
    values.update(changes)
    return OutgoingMail(**values)  # type: ignore[arg-type]


def _parsed(mail: OutgoingMail) -> EmailMessage:
    parsed = message_from_bytes(build_email(mail), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _part(parsed: EmailMessage, subtype: str) -> str:
    """The text of the text/plain ("plain") or text/html ("html") part, as a client shows it."""
    part = parsed.get_body((subtype,))
    assert part is not None and part.get_content_type() == f"text/{subtype}"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def _roundtrip(mail: OutgoingMail) -> dict[str, list[str]]:
    parsed = _parsed(mail)
    headers: dict[str, list[str]] = {}
    for name, value in parsed.items():
        headers.setdefault(name.lower(), []).append(str(value))
    return headers


def test_threading_and_automatic_reply_headers_survive_the_wire() -> None:
    mail = _mail()
    headers = _roundtrip(mail)
    assert headers["message-id"] == [mail.message_id]
    assert headers["in-reply-to"] == [mail.in_reply_to]  # long ids are not RFC 2047-mangled
    assert headers["references"] == ["<x@example.nl>"]
    assert headers["auto-submitted"] == ["auto-replied"]
    assert headers["x-auto-response-suppress"] == ["All"]
    assert headers["content-language"] == ["nl"]


def test_hostile_text_cannot_add_headers() -> None:
    headers = _roundtrip(
        _mail(
            subject="Hallo\r\nBcc: victim@example.org",
            sender_name="Evil\nBcc: victim@example.org",
            in_reply_to="<a@b>\r\nBcc: victim@example.org",
            references=("<c@d>\nCc: victim@example.org",),
        )
    )
    assert "bcc" not in headers and "cc" not in headers
    assert headers["to"] == ["jan@example.nl"]
    assert len(headers["subject"]) == 1


def test_non_ascii_text_is_encoded_and_reads_back_the_same() -> None:
    mail = _mail(
        subject="Uw verzoek over één cursus [AVG-2026-0001]",
        sender_name="Académie Wérkend Leren",
        body="Beste Zoë,\n\nWij hebben uw bericht ontvangen.\n",
    )
    parsed = _parsed(mail)
    assert parsed["Subject"] == "Uw verzoek over één cursus [AVG-2026-0001]"
    assert parsed["From"].addresses[0].display_name == "Académie Wérkend Leren"
    assert _part(parsed, "plain") == "Beste Zoë,\n\nWij hebben uw bericht ontvangen.\n"
    assert "<p>Beste Zoë,</p>" in _part(parsed, "html")
    assert b"Zo=C3=AB" in build_email(mail)  # quoted-printable: still readable raw


def test_the_mail_is_the_approved_text_and_the_same_text_as_html() -> None:
    body = (
        "Beste Jan,\n\nWat gebeurt er nu?\n- Wij zoeken uw gegevens op.\n- U krijgt antwoord.\n"
        "\nMet vriendelijke groet,\nAcademie Werkend Leren\n"
    )
    parsed = _parsed(_mail(body=body, language="en"))
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert _part(parsed, "plain") == body
    html = _part(parsed, "html")
    assert '<html lang="en">' in html
    assert "<p>Beste Jan,</p>" in html
    assert "<p>Wat gebeurt er nu?</p>\n<ul>\n<li>Wij zoeken uw gegevens op.</li>\n" in html
    assert "<p>Met vriendelijke groet,<br>\nAcademie Werkend Leren</p>" in html  # lines kept
    assert "<title>Wij hebben uw bericht ontvangen [AVG-2026-0001]</title>" in html


def test_the_html_part_shows_hostile_text_as_text() -> None:
    body = 'Beste <script>alert(1)</script> {{ 7*7 }} {% raw %},\n\n<img src="https://evil.example/t.gif">\n'
    html = _part(_parsed(_mail(body=body)), "html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} {% raw %}" in html
    assert "&lt;img src=&#34;" in html
    assert "<script" not in html and "<img" not in html and "49" not in html


def test_addresses_become_links_and_nothing_else_does() -> None:
    body = (
        "Mail ons op privacy@academiewerkendleren.nl of kijk op "
        "https://academiewerkendleren.nl/privacy?a=1&b=2.\n"
        'Niet: javascript:alert(1) of "https://x.example/"onmouseover="alert(1)\n'
    )
    html = _part(_parsed(_mail(body=body)), "html")
    assert (
        '<a href="mailto:privacy@academiewerkendleren.nl">privacy@academiewerkendleren.nl</a>'
        in html
    )
    url = "https://academiewerkendleren.nl/privacy?a=1&amp;b=2"
    assert f'<a href="{url}">{url}</a>.' in html  # the full stop ends the sentence, not the link
    assert '<a href="https://x.example/">https://x.example/</a>&#34;onmouseover=' in html
    assert "javascript:" not in html.split("href=")[-1].split(">")[0]
    assert html.count("<a ") == 3


def test_the_html_part_loads_nothing_from_elsewhere() -> None:
    html = _part(_parsed(_mail(body="Zie https://academiewerkendleren.nl\n")), "html")
    assert "<img" not in html and "src=" not in html and "<link" not in html
    assert "<script" not in html and "url(" not in html and "@import" not in html


def test_attachments_follow_the_text_and_keep_their_names_and_bytes() -> None:
    package = bytes(range(256)) * 40
    mail = _mail(
        attachments=(
            Attachment("inzage-AVG-2026-0001.zip", "application/zip", package),
            Attachment("gegevens van Zoë.csv", "text/csv", "naam;Zoë\n".encode()),
            Attachment("../../etc/passwd\r\nBcc: x@example.org", "text/plain\r\nX: y", b"x"),
        )
    )
    raw = build_email(mail)
    parsed = _parsed(mail)
    assert parsed.get_content_type() == "multipart/mixed"
    first, *files = parsed.iter_parts()
    assert first.get_content_type() == "multipart/alternative"
    assert _part(parsed, "plain") == mail.body
    assert [f.get_content_disposition() for f in files] == ["attachment"] * 3
    assert [f.get_filename() for f in files] == [
        "inzage-AVG-2026-0001.zip",
        "gegevens van Zoë.csv",
        "passwd Bcc: x@example.org",  # no folders, no line break
    ]
    assert [f.get_content_type() for f in files] == [
        "application/zip",
        "text/csv",
        "application/octet-stream",
    ]
    assert files[0].get_payload(decode=True) == package
    assert files[1].get_payload(decode=True) == "naam;Zoë\n".encode()
    assert b"filename*=utf-8''gegevens%20van%20Zo%C3%AB.csv" in raw  # RFC 2231
    assert "bcc" not in {name.lower() for name in parsed}


def test_a_long_file_name_is_shortened_to_fit_a_header_line_and_keeps_its_extension() -> None:
    mail = _mail(
        attachments=(Attachment("gegevens van Zoë " * 40 + ".zip", "application/zip", b"x"),)
    )
    raw = build_email(mail)
    assert max(len(line) for line in raw.split(b"\n")) <= 998
    [file] = _parsed(mail).iter_attachments()
    name = file.get_filename()
    assert name is not None and name.startswith("gegevens van Zoë") and name.endswith(".zip")


async def test_the_maildir_is_created_with_its_parent_folders(tmp_path: Path) -> None:
    outbox = tmp_path / "fresh" / "var" / "outbox"
    await MaildirTransport(outbox).send(_mail())
    [written] = list((outbox / "new").iterdir())
    parsed = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert parsed["To"] == "jan@example.nl"


# Header text of every kind: plain words, runs of spaces and tabs, non-ASCII, very long words.
_WORD = st.text(alphabet=list("aZ09.,;:<>@\"'()=?_-éë€\t"), max_size=40) | st.sampled_from(
    ["x" * 300, "From", "=?utf-8?q?x?="]
)
_TEXT = st.lists(_WORD, max_size=12).map(" ".join) | st.builds(
    lambda w, n: "  ".join([w] * n), _WORD, st.integers(1, 30)
)
# Body lines of every kind the HTML part treats apart: list items, addresses, markup, blank lines.
_LINE = st.text(max_size=80) | st.sampled_from(
    [
        "",
        "  ",
        "- een punt",
        "•  nog een",
        "-",
        "https://academiewerkendleren.nl/privacy?a=1&b=2.",
        "(www.example.nl/a_(b))",
        "mail jan.jansen@example.nl!",
        "<script>alert(1)</script> {{ 7*7 }}",
        "--=_alt_0123",
        "From here on",
        "x" * 200,
    ]
)
_BODY = st.lists(_LINE, max_size=12).map("\n".join) | st.sampled_from(["a\r\nb", "a\rb\n"])


@settings(max_examples=300, deadline=None)
@given(
    subject=_TEXT,
    sender_name=_TEXT,
    body=_BODY,
    references=st.lists(
        st.builds(lambda s: f"<{s}@example.nl>", st.text("abc123.-", min_size=1, max_size=300)),
        max_size=6,
    ),
    in_reply_to=st.sampled_from(["", "<a@b>", "<" + "l" * 990 + "@x>"]),
    recipient=st.sampled_from(["jan@example.nl", "zoë@example.nl", "Jan <jan@example.nl>"]),
    language=st.sampled_from(["nl", "en"]),
)
def test_the_quick_path_writes_the_bytes_the_email_package_writes(
    subject: str,
    sender_name: str,
    body: str,
    references: list[str],
    in_reply_to: str,
    recipient: str,
    language: str,
) -> None:
    """build_email writes most mails itself; whatever it is given, the bytes are the stdlib's,
    and they read back as the text and the HTML made of it."""
    mail = _mail(
        subject=subject,
        sender_name=sender_name,
        body=body,
        references=tuple(references),
        in_reply_to=in_reply_to,
        recipient=recipient,
        language=language,
    )
    raw = build_email(mail)
    assert raw == stdlib_email(mail)
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert _part(parsed, "html") == render_html(
        mail.body, language, title=" ".join(subject.split())
    )

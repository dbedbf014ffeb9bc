"""parse_mail: raw e-mail bytes to InboundMessage, including the broken mail the public sends."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from dsr_bot.channels.mime import MimeLimits, parse_mail
from dsr_bot.domain.inbound import Attachment, Channel, InboundMessage
from dsr_bot.errors import MalformedMessage

RECEIVED = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
SECRET = "Geheimwoord123"  # body marker that must never show up in a defect string


def parse(
    raw: bytes, *, envelope_from: str | None = None, limits: MimeLimits | None = None
) -> InboundMessage:
    return parse_mail(
        raw,
        source="inbox",
        external_id="7:42",
        received_at=RECEIVED,
        envelope_from=envelope_from,
        limits=limits or MimeLimits(),
    )


def mail(headers: str, body: bytes, *, sender: str = "From: Jan <jan@example.nl>\r\n") -> bytes:
    return (sender + headers).encode("ascii") + b"\r\n" + body


def no_body_in_defects(message: InboundMessage) -> None:
    assert all(SECRET not in defect for defect in message.defects)


def test_plain_text_mail() -> None:
    raw = (
        b"From: =?utf-8?q?J=C3=A1n_de_Vries?= <Jan.De.Vries@Example.NL >\r\n"
        b"To: privacy@company.nl\r\n"
        b"Subject: Inzageverzoek\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\r\n"
        b"Beste,\r\n\r\nIk wil inzage in mijn gegevens.   \r\nJan\r\n\r\n\r\n"
    )
    message = parse(raw)
    assert message.channel is Channel.EMAIL
    assert (message.source, message.external_id, message.received_at) == ("inbox", "7:42", RECEIVED)
    assert message.sender == "jan.de.vries@example.nl"
    assert message.sender_name == "Ján de Vries"
    assert message.subject == "Inzageverzoek"
    assert message.text == "Beste,\n\nIk wil inzage in mijn gegevens.\nJan"
    assert message.attachments == ()
    assert message.defects == ()
    assert message.message_id is None
    assert message.in_reply_to is None
    assert message.references == ()
    assert message.auto_headers == {}


def test_sender_without_display_name_has_no_name() -> None:
    message = parse(mail("", b"hoi", sender="From: <JAN@EXAMPLE.NL>\r\n"))
    assert (message.sender, message.sender_name) == ("jan@example.nl", None)


def test_multipart_alternative_prefers_plain() -> None:
    msg = EmailMessage()
    msg["From"] = "jan@example.nl"
    msg["Subject"] = "Verzoek"
    msg.set_content("Plain versie van het verzoek\n")
    msg.add_alternative("<p>HTML versie</p>", subtype="html")
    message = parse(msg.as_bytes())
    assert message.text == "Plain versie van het verzoek"
    assert message.attachments == ()


def test_html_only_becomes_text() -> None:
    raw = mail(
        "Content-Type: text/html; charset=utf-8\r\n",
        b"<html><body><p>Ik wil <b>inzage</b></p><p>Groet &amp; dank</p></body></html>",
    )
    message = parse(raw)
    assert "Ik wil inzage" in message.text
    assert "Groet & dank" in message.text
    assert "<" not in message.text


def test_html_used_when_plain_alternative_is_empty() -> None:
    msg = EmailMessage()
    msg["From"] = "jan@example.nl"
    msg.set_content("\n")
    msg.add_alternative("<div>Verwijder mijn gegevens</div>", subtype="html")
    assert parse(msg.as_bytes()).text == "Verwijder mijn gegevens"


def test_multiple_inline_text_parts_joined_with_blank_line() -> None:
    msg = EmailMessage()
    msg["From"] = "jan@example.nl"
    msg.set_content("Eerste deel")
    msg.make_mixed()
    second = EmailMessage()
    second.set_content("Tweede deel")
    msg.attach(second)
    assert parse(msg.as_bytes()).text == "Eerste deel\n\nTweede deel"


@pytest.mark.parametrize(
    ("charset", "body", "expected"),
    [
        ("iso-8859-1", "Caf\u00e9 r\u00e9sum\u00e9".encode("latin-1"), "Café résumé"),
        ("windows-1252", "Kosten \u20ac 5,00 voor \u00e9\u00e9n kopie".encode("cp1252"), "€ 5,00"),
        # Declared latin-1 but really windows-1252: the euro sign still comes out right.
        ("iso-8859-1", "Prijs \u20ac 10".encode("cp1252"), "Prijs € 10"),
    ],
)
def test_legacy_charsets(charset: str, body: bytes, expected: str) -> None:
    raw = mail(f"Content-Type: text/plain; charset={charset}\r\n", body)
    message = parse(raw)
    assert expected in message.text
    assert message.defects == ()


def test_quoted_printable_body() -> None:
    raw = mail(
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n",
        b"Caf=C3=A9 en een lange regel die=\r\n doorloopt\r\n",
    )
    assert parse(raw).text == "Café en een lange regel die doorloopt"


@pytest.mark.parametrize(
    "subject",
    [
        "=?utf-8?q?Verzoek_om_inzage_=E2=82=AC?=",
        "=?UTF-8?B?VmVyem9layBvbSBpbnphZ2Ug4oKs?=",
        "=?iso-8859-15?q?Verzoek_om?= =?utf-8?b?IGluemFnZSDigqw=?=",
    ],
)
def test_encoded_word_subject(subject: str) -> None:
    message = parse(mail(f"Subject: {subject}\r\n", b"x"))
    assert message.subject == "Verzoek om inzage €"


def test_missing_subject_is_empty() -> None:
    assert parse(mail("", b"x")).subject == ""


@pytest.mark.parametrize(
    "subject_header",
    [
        b"Subject: Verzoek\r\n\tBcc: x\r\n",  # folded continuation line
        b"Subject: =?utf-8?q?Verzoek=0D=0ABcc:_x?=\r\n",  # CR LF smuggled in an encoded word
        b"Subject: Verzoek\r\n  \r\n  Bcc:   x\r\n",
    ],
)
def test_subject_with_line_breaks_becomes_one_line(subject_header: bytes) -> None:
    raw = b"From: jan@example.nl\r\n" + subject_header + b"\r\nbody"
    message = parse(raw)
    assert message.subject == "Verzoek Bcc: x"


def test_unknown_charset_is_read_and_noted() -> None:
    raw = mail(
        "Content-Type: text/plain; charset=x-unknown-42\r\n",
        f"Ik wil inzage. {SECRET}".encode(),
    )
    message = parse(raw)
    assert message.text == f"Ik wil inzage. {SECRET}"
    assert any("unknown charset 'x-unknown-42'" in defect for defect in message.defects)
    no_body_in_defects(message)


def test_unknown_charset_with_8bit_bytes_is_guessed() -> None:
    body = f"Geachte heer, ik verzoek om inzage in alle gegevens die u over mij verwerkt. {SECRET}"
    raw = mail("Content-Type: text/plain; charset=x-unknown-42\r\n", body.encode("utf-16"))
    message = parse(raw)
    assert "inzage in alle gegevens" in message.text
    assert any("x-unknown-42" in defect for defect in message.defects)
    no_body_in_defects(message)


def test_utf8_declared_but_latin1_bytes() -> None:
    body = (
        "Geachte mevrouw, graag ontvang ik een overzicht van mijn persoonsgegevens. "
        "Ik heb eerder gemaild over mijn caf\u00e9-abonnement en mijn r\u00e9sum\u00e9. "
        f"Met vriendelijke groet, Ren\u00e9e {SECRET}"
    )
    raw = mail("Content-Type: text/plain; charset=utf-8\r\n", body.encode("latin-1"))
    message = parse(raw)
    assert "caf\u00e9-abonnement" in message.text
    assert "Ren\u00e9e" in message.text
    assert "\ufffd" not in message.text
    assert any("do not fit charset 'utf-8'" in defect for defect in message.defects)
    no_body_in_defects(message)


def test_undeclared_charset_utf8_bytes() -> None:
    raw = mail("", "Café".encode())
    message = parse(raw)
    assert message.text == "Café"
    assert message.defects == ()


MULTIPART_BODY = (
    b"--real-boundary\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Ik wil mijn gegevens laten verwijderen. " + SECRET.encode() + b"\r\n"
    b"--real-boundary\r\n"
    b"Content-Type: application/pdf\r\n"
    b"Content-Disposition: attachment; filename=a.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"JVBERi0xLjQK\r\n"
    b"--real-boundary--\r\n"
)


@pytest.mark.parametrize(
    "content_type",
    [
        "Content-Type: multipart/mixed\r\n",  # boundary parameter missing
        'Content-Type: multipart/mixed; boundary="wrong-boundary"\r\n',  # garbled boundary
    ],
)
def test_broken_multipart_boundary_is_recovered(content_type: str) -> None:
    message = parse(mail("MIME-Version: 1.0\r\n" + content_type, MULTIPART_BODY))
    assert message.text == f"Ik wil mijn gegevens laten verwijderen. {SECRET}"
    assert message.attachments == (Attachment("a.pdf", "application/pdf", 9),)
    assert any("boundary" in defect for defect in message.defects)
    no_body_in_defects(message)


def test_multipart_without_any_boundary_lines_is_read_as_text() -> None:
    raw = mail("Content-Type: multipart/mixed\r\n", SECRET.encode() + b" gewoon tekst\r\n")
    message = parse(raw)
    assert message.text == f"{SECRET} gewoon tekst"
    assert any("read as text" in defect for defect in message.defects)
    no_body_in_defects(message)


def test_truncated_base64_text() -> None:
    encoded = base64.b64encode(f"Ik wil inzage {SECRET} alstublieft".encode())
    raw = mail(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
        encoded[:-7] + b"\r\n",
    )
    message = parse(raw)
    assert message.text.startswith(f"Ik wil inzage {SECRET}")
    assert any("base64" in defect for defect in message.defects)
    no_body_in_defects(message)


def test_multipart_missing_close_boundary_keeps_parts() -> None:
    raw = mail(
        'Content-Type: multipart/mixed; boundary="b1"\r\n',
        b"--b1\r\nContent-Type: text/plain\r\n\r\nEerste\r\n--b1\r\nContent-Type: text/plain\r\n"
        b"\r\nTweede (afgekapt",
    )
    message = parse(raw)
    assert message.text == "Eerste\n\nTweede (afgekapt"
    assert message.defects


def test_headers_only_message_has_empty_text() -> None:
    message = parse(b"From: jan@example.nl\r\nSubject: leeg\r\n\r\n")
    assert message.text == ""
    assert message.subject == "leeg"


def test_empty_html_body() -> None:
    assert parse(mail("Content-Type: text/html\r\n", b"")).text == ""


def test_large_attachment_is_measured_not_kept() -> None:
    size = 30 * 1024 * 1024
    msg = EmailMessage()
    msg["From"] = "jan@example.nl"
    msg.set_content("Zie bijlage")
    msg.add_attachment(b"x" * size, maintype="application", subtype="zip", filename="groot.zip")
    raw = msg.as_bytes()
    message = parse(raw, limits=MimeLimits(keep_attachment_types=frozenset({"application/zip"})))
    assert message.text == "Zie bijlage"
    assert message.attachments == (Attachment("groot.zip", "application/zip", size, None),)
    assert any("too large to keep" in defect for defect in message.defects)


def test_pdf_attachment_with_encoded_filename() -> None:
    raw = mail(
        'Content-Type: multipart/mixed; boundary="b"\r\n',
        b"--b\r\nContent-Type: text/plain\r\n\r\nZie bijlage\r\n"
        b'--b\r\nContent-Type: application/PDF; name="=?utf-8?q?inzage=C3=A9.pdf?="\r\n'
        b'Content-Disposition: attachment; filename="=?utf-8?q?inzage=C3=A9.pdf?="\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(b"%PDF-1.4 test")
        + b"\r\n--b--\r\n",
    )
    message = parse(raw)
    assert message.text == "Zie bijlage"
    assert message.attachments == (Attachment("inzageé.pdf", "application/pdf", 13, None),)


def test_rfc2231_filename() -> None:
    msg = EmailMessage()
    msg["From"] = "jan@example.nl"
    msg.set_content("x")
    msg.add_attachment(b"data", maintype="application", subtype="pdf", filename="kopie €.pdf")
    assert parse(msg.as_bytes()).attachments[0].filename == "kopie €.pdf"


def test_forwarded_message_is_attachment_not_text() -> None:
    inner = EmailMessage()
    inner["From"] = "other@example.org"
    inner["Subject"] = "Origineel"
    inner.set_content(f"Doorgestuurde inhoud {SECRET}")
    msg = EmailMessage()
    msg["From"] = "jan@example.nl"
    msg.set_content("Zie doorgestuurd bericht")
    msg.add_attachment(inner)
    message = parse(msg.as_bytes())
    assert message.text == "Zie doorgestuurd bericht"
    assert SECRET not in message.text
    [attachment] = message.attachments
    assert attachment.content_type == "message/rfc822"
    assert attachment.size >= len(inner.as_bytes()) - 20
    assert attachment.content is None


def test_inline_image_and_text_attachment_are_attachments() -> None:
    msg = EmailMessage()
    msg["From"] = "jan@example.nl"
    msg.set_content("Tekst")
    msg.add_attachment(b"\xff\xd8\xff", maintype="image", subtype="jpeg", disposition="inline")
    msg.add_attachment("a;b\n", subtype="csv", filename="data.csv")
    msg.add_attachment("niet de body", filename="notitie.txt")
    message = parse(msg.as_bytes())
    assert message.text == "Tekst"
    types = [(a.filename, a.content_type) for a in message.attachments]
    assert types == [(None, "image/jpeg"), ("data.csv", "text/csv"), ("notitie.txt", "text/plain")]


def test_keep_attachment_types_keeps_bytes() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4
    msg = EmailMessage()
    msg["From"] = "jan@example.nl"
    msg.set_content("ID-kopie bijgevoegd")
    msg.add_attachment(jpeg, maintype="image", subtype="jpeg", filename="id.jpg")
    msg.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="a.pdf")
    raw = msg.as_bytes()
    kept = parse(raw, limits=MimeLimits(keep_attachment_types=frozenset({"image/jpeg"})))
    assert kept.attachments[0] == Attachment("id.jpg", "image/jpeg", len(jpeg), jpeg)
    assert kept.attachments[1].content is None
    assert parse(raw).attachments[0].content is None


def test_too_many_attachments_are_counted() -> None:
    msg = EmailMessage()
    msg["From"] = "jan@example.nl"
    msg.set_content("veel")
    for number in range(5):
        msg.add_attachment(b"x", maintype="application", subtype="pdf", filename=f"{number}.pdf")
    message = parse(msg.as_bytes(), limits=MimeLimits(max_attachments=3))
    assert [a.filename for a in message.attachments] == ["0.pdf", "1.pdf", "2.pdf"]
    assert "2 attachments beyond the limit of 3 not listed" in message.defects


def test_long_text_is_cut() -> None:
    raw = mail("Content-Type: text/plain; charset=utf-8\r\n", ("é" * 500).encode())
    message = parse(raw, limits=MimeLimits(max_text_chars=100))
    assert message.text == "é" * 100
    assert "text cut to 100 characters" in message.defects


def test_overlong_headers_are_cut() -> None:
    raw = mail(
        "Subject: " + "woord " * 200_000 + "\r\n"
        "References: " + "".join(f"<{n}@x.nl> " for n in range(50_000)) + "\r\n",
        b"x",
    )
    message = parse(raw)  # uncut, the stdlib's super-linear header parsing would hit the timeout
    assert message.subject.startswith("woord woord")
    assert len(message.subject) <= 4000
    assert len(message.references) == 100
    assert message.references[0] == "<0@x.nl>"
    assert message.references[-1] == "<49999@x.nl>"
    assert "'Subject' header over 4000 characters, read in part" in message.defects


def test_nested_comments_in_from_do_not_raise() -> None:
    raw = b"From: " + b"(a" * 5000 + b" jan@example.nl\r\n\r\nbody"
    assert parse(raw, envelope_from="env@example.nl").sender == "env@example.nl"


def test_deeply_nested_multipart_is_malformed_not_a_crash() -> None:
    levels = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (n, n)
        for n in range(3000)
    )
    with pytest.raises(MalformedMessage, match="unparseable"):
        parse(b"From: jan@example.nl\r\n" + levels)


def test_missing_from_uses_envelope() -> None:
    raw = b"Subject: hoi\r\n\r\nbody"
    message = parse(raw, envelope_from="<Jan@Example.NL>")
    assert (message.sender, message.sender_name) == ("jan@example.nl", None)


def test_unusable_from_falls_back_to_return_path() -> None:
    raw = b"From: Jan zonder adres\r\nReturn-Path: <bounce@example.nl>\r\n\r\nbody"
    message = parse(raw)
    assert message.sender == "bounce@example.nl"
    assert message.auto_headers["return-path"] == "<bounce@example.nl>"


@pytest.mark.parametrize(
    "raw", [b"Subject: hoi\r\n\r\nbody", b"From: undisclosed\r\nReturn-Path: <>\r\n\r\nbody"]
)
def test_missing_sender_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedMessage, match="no sender address"):
        parse(raw)


@pytest.mark.parametrize("raw", [b"", b"\r\n\r\n  "])
def test_empty_input_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse(raw)


def test_message_ids() -> None:
    raw = mail(
        "Message-ID:  <abc.123@mail.example.nl> \r\n"
        "In-Reply-To: Jan's message of Monday <parent@example.nl>\r\n"
        "References: <root@example.nl>\r\n <mid@example.nl><parent@example.nl>  bare@example.nl"
        " <root@example.nl>\r\n",
        b"x",
    )
    message = parse(raw)
    assert message.message_id == "<abc.123@mail.example.nl>"
    assert message.in_reply_to == "<parent@example.nl>"
    assert message.references == ("<root@example.nl>", "<mid@example.nl>", "<parent@example.nl>")


def test_message_id_without_brackets_and_empty_headers() -> None:
    raw = mail("Message-ID: abc@example.nl\r\nIn-Reply-To: \r\nReferences:\r\n", b"x")
    message = parse(raw)
    assert message.message_id == "<abc@example.nl>"
    assert message.in_reply_to is None
    assert message.references == ()


def test_references_without_brackets() -> None:
    message = parse(mail("References: a@x.nl b@x.nl\r\n", b"x"))
    assert message.references == ("<a@x.nl>", "<b@x.nl>")


def test_auto_headers_are_captured() -> None:
    raw = mail(
        "Auto-Submitted: auto-replied\r\n"
        "Precedence:  bulk \r\n"
        "List-Id: Nieuwsbrief <news.example.nl>\r\n"
        "List-Unsubscribe: <mailto:unsub@example.nl>,\r\n <https://example.nl/u>\r\n"
        "X-Spam: no\r\n",
        b"Afwezig",
    )
    assert parse(raw).auto_headers == {
        "auto-submitted": "auto-replied",
        "precedence": "bulk",
        "list-id": "Nieuwsbrief <news.example.nl>",
        "list-unsubscribe": "<mailto:unsub@example.nl>, <https://example.nl/u>",
    }


def test_garbage_input_with_envelope_does_not_raise() -> None:
    raw = b"\x00\xff\xfe garbage \r\n--\r\n" + bytes(range(256)) * 10
    message = parse(raw, envelope_from="jan@example.nl")
    assert message.sender == "jan@example.nl"
    assert "\x00" not in message.text


def test_message_ids_encoded_by_a_careless_generator_are_still_found() -> None:
    raw = (
        b"From: jan@example.nl\r\nSubject: Re: vraag\r\n"
        b"In-Reply-To: =?utf-8?q?=3C179556664525=2E11937=2E16314184239004892902=2EAVG-?=\r\n"
        b" =?utf-8?q?2026-0001=40academiewerkendleren=2Enl=3E?=\r\n\r\nHallo\r\n"
    )
    msg = parse_mail(raw, source="info", external_id="1:1", received_at=RECEIVED)
    assert msg.in_reply_to == (
        "<179556664525.11937.16314184239004892902.AVG-2026-0001@academiewerkendleren.nl>"
    )


@pytest.mark.parametrize(
    "from_header",
    [
        "Jan Jansen <jan@example.nl>",
        '"Jan Jansen" <JAN@Example.NL>',
        "jan@example.nl",
        "=?utf-8?q?Zo=C3=AB_de_Vries?= <zoe@example.nl>",
        "=?iso-8859-1?q?J=E9r=F4me?= <j@x.nl>",
        "<jan@example.nl>",
        '"Jan \\"de\\" Vries" <jan@x.nl>',
        '"Jansen, Jan" <jan@x.nl>',
        "Jan (werk) <jan@x.nl>",
        "=?utf-8?q?broken <jan@x.nl>",
    ],
)
def test_the_fast_from_reading_agrees_with_the_full_parser(
    from_header: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dsr_bot.channels import mime

    raw = f"From: {from_header}\r\nSubject: x\r\n\r\nhoi\r\n".encode()
    fast = parse(raw)
    monkeypatch.setattr(mime, "_simple_sender", lambda _raw: None)
    full = parse(raw)
    assert (fast.sender, fast.sender_name) == (full.sender, full.sender_name)

"""Outgoing mail headers: threading, RFC 3834 marking, and no header injection."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dsr_bot.channels.mail_out import MaildirTransport, _headers, build_email, stdlib_email
from dsr_bot.domain.outgoing import OutgoingMail, new_message_id


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


def _roundtrip(mail: OutgoingMail) -> dict[str, list[str]]:
    parsed = message_from_bytes(build_email(mail), policy=policy.default)
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
    parsed = message_from_bytes(build_email(mail), policy=policy.default)
    assert parsed["Subject"] == "Uw verzoek over één cursus [AVG-2026-0001]"
    assert parsed["From"].addresses[0].display_name == "Académie Wérkend Leren"
    body = parsed.get_body(("plain",))
    assert body is not None
    assert body.get_content() == "Beste Zoë,\n\nWij hebben uw bericht ontvangen.\n"
    assert b"Zo=C3=AB" in build_email(mail)  # quoted-printable: still readable raw


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


@settings(max_examples=300, deadline=None)
@given(
    subject=_TEXT,
    sender_name=_TEXT,
    body=st.text(max_size=600) | st.sampled_from(["From here on\n", "Hallo\nFrom me\n", "a\r\nb"]),
    references=st.lists(
        st.builds(lambda s: f"<{s}@example.nl>", st.text("abc123.-", min_size=1, max_size=300)),
        max_size=6,
    ),
    in_reply_to=st.sampled_from(["", "<a@b>", "<" + "l" * 990 + "@x>"]),
    recipient=st.sampled_from(["jan@example.nl", "zoë@example.nl", "Jan <jan@example.nl>"]),
)
def test_the_quick_path_writes_the_bytes_the_email_package_writes(
    subject: str,
    sender_name: str,
    body: str,
    references: list[str],
    in_reply_to: str,
    recipient: str,
) -> None:
    """build_email writes most mails itself; whatever it is given, the bytes are the stdlib's."""
    mail = _mail(
        subject=subject,
        sender_name=sender_name,
        body=body,
        references=tuple(references),
        in_reply_to=in_reply_to,
        recipient=recipient,
    )
    assert build_email(mail) == stdlib_email(_headers(mail), mail.body)

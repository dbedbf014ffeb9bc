"""Hostile mail at the parse level: whatever bytes arrive, the intake hands the pipeline either a
message or a quarantine record, and what the pipeline would store of it holds no BSN."""

from __future__ import annotations

from hypothesis import event, example, given
from hypothesis import strategies as st

from dsr_bot.channels.intake import raw_to_item
from dsr_bot.domain.bsn import contains_bsn
from dsr_bot.domain.inbound import InboundMessage, Quarantined
from dsr_bot.services.pipeline import mask_message
from tests.fuzz.conftest import NOW, PARSE_SETTINGS, TIMEOUT
from tests.fuzz.strategies import MARKER, raw_mail

_ENVELOPES = st.sampled_from((None, "bounce@example.nl", "Jan@Example.NL", "not an address"))


def _stored_text(message: InboundMessage) -> list[str]:
    """The free-text fields the pipeline writes to the messages table, after its masking."""
    masked = mask_message(message)
    return [
        masked.subject,
        masked.text,
        masked.sender_name or "",
        *(a.filename or "" for a in masked.attachments),
        *masked.defects,
    ]


@TIMEOUT
@PARSE_SETTINGS
@given(raw=raw_mail(), envelope_from=_ENVELOPES)
@example(raw=b"", envelope_from=None)
@example(raw=b"\r\n\r\n", envelope_from="bounce@example.nl")
# Found by this test: a charset naming a BSN was quoted unmasked in a stored defect.
@example(
    raw=b"Content-Type: text/plain; charset=123456782\r\nContent-Transfer-Encoding: 7bit\r\n\r\n",
    envelope_from="bounce@example.nl",
)
# Found with this test's Unicode check: UTF-7 can spell a lone surrogate, which no database stores.
@example(
    raw=b"From: a@b.nl\r\nContent-Type: text/plain; charset=utf-7\r\n\r\nhoi +2AA- daar",
    envelope_from=None,
)
# Found by `make fuzz` on PostgreSQL: a NUL in a Message-ID made the database refuse the mail,
# which SQLite stored as a case.
@example(raw=b"From: a@b.nl\r\nMessage-ID: <a\x00b@c>\r\n\r\nhoi", envelope_from=None)
# Found by this test: of two BSNs side by side, the grouped one stayed unmasked.
@example(raw=b"From:  <jan@example.nl>\r\n\r\n123456782 123 456 782 ", envelope_from=None)
def test_any_bytes_become_a_message_or_a_quarantine_record(
    raw: bytes, envelope_from: str | None
) -> None:
    item = raw_to_item(
        raw, source="info", external_id="1:1", received_at=NOW, envelope_from=envelope_from
    )
    if isinstance(item, Quarantined):
        assert item.reason  # staff see why
        event(f"quarantined: {item.reason}")
        _storable(item.subject, item.text, item.sender or "")
        return
    event("message" if not item.defects else "message with defects")
    assert isinstance(item, InboundMessage)
    # Header values are one line each: nothing a sender writes can start a header or a log line.
    for value in (item.sender, item.subject, item.sender_name or ""):
        assert "\n" not in value and "\r" not in value
    assert "@" in item.sender and item.sender == item.sender.lower()
    assert item.received_at == NOW
    # Defects end up in logs: they name parts and problems, never what the person wrote.
    assert not any(MARKER in defect for defect in item.defects)
    for text in _stored_text(item):
        assert not contains_bsn(text)
    # Stored as they are, not cleaned like text: PostgreSQL refuses a NUL in them.
    assert not any("\x00" in mid for mid in (item.message_id or "", *item.references))
    assert "\x00" not in (item.in_reply_to or "")
    _storable(
        *_stored_text(item),
        item.sender,
        item.message_id or "",
        item.in_reply_to or "",
        *item.references,
        *item.auto_headers.values(),
    )


def _storable(*texts: str) -> None:
    """A database takes only proper Unicode: a lone surrogate (how the email package carries
    undecodable bytes) would fail the whole batch's write."""
    for text in texts:
        text.encode("utf-8")

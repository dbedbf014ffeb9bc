"""Turning raw mail bytes into a pipeline item: a parsed message, or a quarantined one."""

from __future__ import annotations

from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32

from dsr_bot.channels.mime import DEFAULT_LIMITS, MimeLimits, parse_mail
from dsr_bot.domain.hygiene import header_safe
from dsr_bot.domain.inbound import Channel, InboundMessage, Quarantined
from dsr_bot.errors import MalformedMessage


def raw_to_item(
    raw: bytes,
    *,
    source: str,
    external_id: str,
    received_at: datetime,
    envelope_from: str | None = None,
    limits: MimeLimits = DEFAULT_LIMITS,
) -> InboundMessage | Quarantined:
    try:
        return parse_mail(
            raw,
            source=source,
            external_id=external_id,
            received_at=received_at,
            envelope_from=envelope_from,
            limits=limits,
        )
    except MalformedMessage as exc:
        return _quarantined(raw, source, external_id, received_at, exc.reason, envelope_from)


def _quarantined(
    raw: bytes,
    source: str,
    external_id: str,
    received_at: datetime,
    reason: str,
    envelope_from: str | None,
) -> Quarantined:
    # Keep what can be read, so staff can still find and answer the person.
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw[:65536])
    _, _, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    return Quarantined(
        channel=Channel.EMAIL,
        source=source,
        external_id=external_id,
        received_at=received_at,
        reason=reason,
        sender=envelope_from,
        subject=header_safe(str(headers.get("Subject", "")), 500),
        text=body[:200_000].decode("utf-8", errors="replace"),
        message_id=None,
    )

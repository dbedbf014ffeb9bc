"""What a channel hands to the pipeline: one incoming message, protocol details stripped."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Channel(enum.StrEnum):
    EMAIL = "email"
    TELEGRAM = "telegram"


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str | None
    content_type: str
    size: int
    # Kept only where a later step needs it (ID copies); otherwise None.
    content: bytes | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message as received. Text may still hold a BSN: the pipeline masks before storing."""

    channel: Channel
    # Where the message came in, e.g. the mailbox name; replies go out the same way.
    source: str
    # Unique per source: "<uidvalidity>:<uid>" for IMAP, a generated id for SMTP intake.
    external_id: str
    sender: str  # normalised address (lower case), or chat id
    sender_name: str | None
    subject: str
    text: str
    received_at: datetime  # timezone-aware
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    # Header facts that tell automatic mail apart (RFC 3834): lower-cased name -> value.
    auto_headers: dict[str, str] = field(default_factory=dict)
    # Problems the parser coped with (bad charset, broken MIME); kept for staff, never fatal.
    defects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A message a channel could not read as a request; kept with the reason, never dropped."""

    channel: Channel
    source: str
    external_id: str
    received_at: datetime
    reason: str
    sender: str | None = None
    subject: str = ""
    text: str = ""
    message_id: str | None = None

"""What the outbox hands a channel to deliver: protocol details are the channel's business."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a mail: an access or portability package."""

    filename: str
    content_type: str  # "application/zip", "text/csv", ...
    data: bytes


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    sender: str
    sender_name: str
    recipient: str
    subject: str
    body: str
    language: str
    message_id: str
    created_at: datetime
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    auto_submitted: str | None = None  # RFC 3834 value, e.g. "auto-replied"
    channel: str = "email"  # which transport delivers it; recipient is a chat id for "telegram"
    # Chat only: rows of inline buttons, each {"text", "data"} or {"text", "url"}.
    buttons: tuple[tuple[dict[str, str], ...], ...] = ()
    attachments: tuple[Attachment, ...] = ()  # e-mail only


def new_message_id(reference: str, domain: str) -> str:
    """Short and unique; carries the case reference so a human can trace it too."""
    return f"<{reference}.{secrets.token_hex(8)}@{domain}>"


def reachable(channel: str, recipient: str) -> bool:
    """Whether a message can go back on `channel` to `recipient`: an e-mail address, or a
    Telegram chat id."""
    if channel == "email":
        return "@" in recipient
    if channel == "telegram":
        return recipient.lstrip("-").isdigit()
    return False

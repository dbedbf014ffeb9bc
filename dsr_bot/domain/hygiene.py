"""Mail hygiene: which mail never gets an automatic reply (RFC 3834), and safe header text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from dsr_bot.domain.bsn import mask_bsns

_BOUNCE_LOCALPARTS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply")
_BULK_PRECEDENCE = ("bulk", "list", "junk", "auto_reply")


def automatic_reason(
    sender: str, auto_headers: Mapping[str, str], own_addresses: Iterable[str]
) -> str | None:
    """Why this message is automatic (so gets no auto-reply), or None for a person's mail."""
    auto_submitted = auto_headers.get("auto-submitted", "").strip().lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        # The sender's words, stored as the reason: masked like any text they write.
        return f"Auto-Submitted: {mask_bsns(auto_submitted.split(';')[0].strip())}"
    precedence = auto_headers.get("precedence", "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    if "list-id" in auto_headers:
        return "mailing list (List-Id)"
    if "x-autoreply" in auto_headers or "x-autorespond" in auto_headers:
        return "auto-responder header"
    if auto_headers.get("return-path", "").strip() == "<>":
        return "bounce (empty Return-Path)"
    local = sender.split("@", 1)[0].lower()
    if local in _BOUNCE_LOCALPARTS or local.startswith("mailer-daemon"):
        return f"automatic sender ({local})"
    if sender.lower() in {a.lower() for a in own_addresses}:
        return "our own address"
    return None


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]+")


def header_safe(text: str, max_len: int = 200) -> str:
    """One line of header text: control characters (CR, LF, ...) cannot start a new header."""
    cleaned = " ".join(_CONTROL.sub(" ", text).split())
    return cleaned[:max_len]

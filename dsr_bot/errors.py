"""Every error dsr-bot raises on purpose.

Hierarchy::

    DsrBotError          base; its message is safe to show a user (no secrets, no personal data)
    ├── ConfigError      a setting is missing or has a bad value; the message names the setting
    ├── StoreError       the database cannot be reached or is not migrated
    │   └── CaseNotFound no case has the given reference
    ├── ChannelError     a mail or chat server cannot be reached or refused us
    │   └── DeliveryError  an outgoing message was not delivered (the outbox retries it)
    ├── MalformedMessage an incoming message cannot become a case; quarantined with this reason
    ├── UnreadableImage  an ID copy is not a JPEG, PNG or PDF we can open; it is not kept
    ├── StaffError       a console account cannot be created or changed as asked
    └── LoginThrottled   too many failed console logins; says when to try again

The CLI turns a DsrBotError into a one-line message and exit status 2; anything else is a bug and
shows its traceback.
"""

from __future__ import annotations


class DsrBotError(Exception):
    """Base class: the message is fit to show a user."""


class ConfigError(DsrBotError):
    """A setting is missing or has a bad value."""


class StoreError(DsrBotError):
    """The database cannot be reached or used."""


class CaseNotFound(StoreError):
    """No case has the given reference."""

    def __init__(self, reference: str) -> None:
        super().__init__(f"no case with reference {reference!r}")
        self.reference = reference


class ChannelError(DsrBotError):
    """A mail or chat server cannot be reached, or refused us."""


class DeliveryError(ChannelError):
    """An outgoing message could not be delivered; the outbox retries it."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class MalformedMessage(DsrBotError):
    """An incoming message cannot become a case; the reason is kept with the quarantined message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnreadableImage(DsrBotError):
    """An ID copy cannot be opened as an image (wrong type, damaged, too large); it is not kept."""


class StaffError(DsrBotError):
    """A console account cannot be created or changed as asked."""


class LoginThrottled(DsrBotError):
    """Too many failed logins; try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after // 60 + 1} minutes")
        self.retry_after = retry_after

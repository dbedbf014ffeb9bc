"""Cases: what was asked (kinds), where the case stands (state), and its reference."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class RequestKind(enum.StrEnum):
    ACCESS = "access"  # Art. 15
    RECTIFICATION = "rectification"  # Art. 16
    ERASURE = "erasure"  # Art. 17
    RESTRICTION = "restriction"  # Art. 18
    PORTABILITY = "portability"  # Art. 20
    OBJECTION = "objection"  # Art. 21, 7(3): incl. withdrawing consent, unsubscribing
    COMPLAINT = "complaint"  # about data handling
    OTHER = "other"


class CaseState(enum.StrEnum):
    TRIAGE = "triage"  # not classified yet: staff decide what was asked
    OPEN = "open"  # kinds known, work to do
    CLOSED = "closed"


# Which state may follow which; anything else is a bug or a stale console page.
TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    CaseState.TRIAGE: frozenset({CaseState.OPEN, CaseState.CLOSED}),
    CaseState.OPEN: frozenset({CaseState.TRIAGE, CaseState.CLOSED}),
    CaseState.CLOSED: frozenset({CaseState.OPEN}),
}


def can_transition(current: CaseState, target: CaseState) -> bool:
    return target in TRANSITIONS[current]


def initial_state(kinds: frozenset[RequestKind], *, confident: bool) -> CaseState:
    """Staff triage unless the classifier is sure of its labels; then it is open work."""
    return CaseState.OPEN if kinds and confident else CaseState.TRIAGE


class EventKind(enum.StrEnum):
    """What the append-only case log records."""

    OPENED = "opened"
    CLASSIFIED = "classified"
    MESSAGE_RECEIVED = "message_received"
    ACK_QUEUED = "acknowledgement_queued"
    ACK_SUPPRESSED = "acknowledgement_suppressed"
    MESSAGE_SENT = "message_sent"
    DELIVERY_FAILED = "delivery_failed"
    STATE_CHANGED = "state_changed"
    REMINDER_SENT = "reminder_sent"
    ESCALATED = "escalated"
    CLOCK_PAUSED = "clock_paused"
    CLOCK_RESUMED = "clock_resumed"
    ASSIGNED = "assigned"
    DRAFTED = "drafted"
    DRAFT_APPROVED = "draft_approved"
    DRAFT_DISCARDED = "draft_discarded"
    EXTENDED = "extended"
    CLOSED = "closed"
    ERASURE_RECORDED = "erasure_recorded"
    # Identity: what was asked, what came back, and who decided; never an image or its numbers.
    IDENTITY_REQUESTED = "identity_requested"
    IDENTITY_REMINDED = "identity_reminded"
    IDENTITY_CONFIRMED = "identity_confirmed"
    IDENTITY_COPY_RECEIVED = "identity_copy_received"
    IDENTITY_COPY_REFUSED = "identity_copy_refused"
    IDENTITY_COPY_CHECKED = "identity_copy_checked"
    IDENTITY_COPY_VIEWED = "identity_copy_viewed"
    IDENTITY_COPY_DELETED = "identity_copy_deleted"
    IDENTITY_VERIFIED = "identity_verified"
    IDENTITY_REJECTED = "identity_rejected"
    IDENTITY_WAIVED = "identity_waived"
    IDENTITY_INHERITED = "identity_inherited"
    IDENTITY_LAPSED = "identity_lapsed"
    # The console (issue 6).
    LABELS_CORRECTED = "labels_corrected"
    TASK_ADDED = "task_added"
    TASK_ASSIGNED = "task_assigned"
    TASK_DONE = "task_done"
    TASK_UNDONE = "task_undone"
    DRAFT_EDITED = "draft_edited"
    DRAFT_REJECTED = "draft_rejected"
    # The chat (issue 7): what the person confirmed before the case opened.
    CHAT_CONFIRMED = "chat_confirmed"
    # Export assembly (issue 8): what was collected from which system, never its content.
    DATA_ADDED = "data_added"
    DATA_REMOVED = "data_removed"
    PACKAGE_ATTACHED = "package_attached"


@dataclass(frozen=True, slots=True)
class Reference:
    """A case reference such as AVG-2026-0042: prefix, year of receipt, sequence within the year."""

    prefix: str
    year: int
    number: int

    def __str__(self) -> str:
        return f"{self.prefix}-{self.year}-{self.number:04d}"

    @property
    def counter_key(self) -> str:
        return f"{self.prefix}-{self.year}"


REFERENCE_RE = re.compile(r"\b([A-Z]{2,8})-(\d{4})-(\d{4,6})\b")


def find_references(text: str) -> list[Reference]:
    """References quoted in a subject line, in order of appearance."""
    return [Reference(m[1], int(m[2]), int(m[3])) for m in REFERENCE_RE.finditer(text)]

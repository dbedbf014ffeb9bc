"""Identity: how much proof a request needs, where a case stands, and what blocks an answer.

Pure rules (legal.md section 3). Ask for an ID copy only where identity must be established, and
then a shielded one; prefer proving control of the channel the request came from (a code).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from dsr_bot.domain.cases import RequestKind

# What people send an ID copy as; the bytes of other attachments are never kept.
COPY_TYPES = frozenset({"image/jpeg", "image/jpg", "image/pjpeg", "image/png", "application/pdf"})


# Statuses of a stored ID copy whose encrypted file still exists (not checked yet, being
# checked, waiting for staff); afterwards the row keeps only the outcome.
LIVE_COPY = ("pending", "checking", "review")


class IdPolicy(enum.StrEnum):
    ALWAYS = "always"  # a shielded ID copy, checked by staff
    ON_DOUBT = "on_doubt"  # a one-time code proves control of the mailbox; staff may still ask
    NEVER = "never"


# The organisation's statement: an ID copy for access, correction and erasure.
DEFAULT_POLICIES: Mapping[RequestKind, IdPolicy] = {
    RequestKind.ACCESS: IdPolicy.ALWAYS,
    RequestKind.RECTIFICATION: IdPolicy.ALWAYS,
    RequestKind.ERASURE: IdPolicy.ALWAYS,
    RequestKind.RESTRICTION: IdPolicy.ON_DOUBT,
    RequestKind.PORTABILITY: IdPolicy.ON_DOUBT,
    RequestKind.OBJECTION: IdPolicy.NEVER,
    RequestKind.COMPLAINT: IdPolicy.NEVER,
    RequestKind.OTHER: IdPolicy.NEVER,
}
_STRENGTH = {IdPolicy.NEVER: 0, IdPolicy.ON_DOUBT: 1, IdPolicy.ALWAYS: 2}


class IdentityState(enum.StrEnum):
    UNDECIDED = "undecided"  # kinds unknown (triage): staff ask for proof or waive it
    NOT_NEEDED = "not_needed"
    CODE_SENT = "code_sent"  # waiting for the code we mailed
    CONFIRMED = "confirmed"  # the code came back from the requester's address
    COPY_REQUESTED = "copy_requested"  # waiting for a shielded copy; the clock stands still
    COPY_RECEIVED = "copy_received"  # a copy passed the automatic check: staff review it
    VERIFIED = "verified"
    REJECTED = "rejected"  # staff rejected the copy; they ask again or close the case
    NOT_VERIFIED = "not_verified"  # nothing came in time; the case was closed


# Identity is established, or not needed: answers may go out.
SATISFIED = frozenset({IdentityState.NOT_NEEDED, IdentityState.CONFIRMED, IdentityState.VERIFIED})
# Waiting on the person: reminders go out, and the request lapses after a while.
WAITING = frozenset({IdentityState.CODE_SENT, IdentityState.COPY_REQUESTED})

# Messages that do not answer the request itself and so may go out while identity is open.
PROCEDURAL_DRAFTS = frozenset(
    {
        "extension_notice",
        "refusal_notice",
        "complaint_acknowledgement",
        "identity_not_verified",
        "id_request",
        "clarification",
    }
)
# Decisions that act on the request: not before identity is established.
SUBSTANTIVE_DECISIONS = frozenset({"answered", "erased"})


class DocumentType(enum.StrEnum):
    PASSPORT = "passport"
    ID_CARD = "id_card"
    DRIVING_LICENCE = "driving_licence"
    RESIDENCE_PERMIT = "residence_permit"
    OTHER = "other"


def policy_for(
    kinds: Iterable[RequestKind], policies: Mapping[RequestKind, IdPolicy] = DEFAULT_POLICIES
) -> IdPolicy:
    """The strictest policy among the kinds asked for."""
    found = [policies[k] for k in kinds]
    return max(found, key=_STRENGTH.__getitem__) if found else IdPolicy.NEVER


def initial_identity(policy: IdPolicy | None) -> IdentityState:
    """Where a new case starts; None: its kinds are not known yet."""
    if policy is None:
        return IdentityState.UNDECIDED
    return {
        IdPolicy.ALWAYS: IdentityState.COPY_REQUESTED,
        IdPolicy.ON_DOUBT: IdentityState.CODE_SENT,
        IdPolicy.NEVER: IdentityState.NOT_NEEDED,
    }[policy]


def blocks_draft(state: IdentityState, draft_kind: str) -> bool:
    """Approving a substantive reply waits for identity (a known fault elsewhere: a duplicate
    request skipped verification)."""
    return state not in SATISFIED and draft_kind not in PROCEDURAL_DRAFTS


def blocks_decision(state: IdentityState, decision: str) -> bool:
    return state not in SATISFIED and decision in SUBSTANTIVE_DECISIONS


@dataclass(frozen=True, slots=True)
class IdentityStep:
    """Something the identity sweep owes a waiting case today."""

    kind: str  # "reminder" or "lapse"
    step: int  # reminders: 1, 2, ...; lapse: 0

    def key(self, reference: str, requested_on: date) -> str:
        return f"identity_{self.kind}:{reference}:{requested_on.isoformat()}:{self.step}"


def identity_steps(
    requested_on: date, today: date, *, reminder_days: Iterable[int], lapse_days: int
) -> list[IdentityStep]:
    """Reminders after each of `reminder_days` days, and the lapse after `lapse_days`: only the
    latest reminder reached, so a bot that was down sends one, not a burst."""
    waited = (today - requested_on).days
    if waited >= lapse_days:
        return [IdentityStep("lapse", 0)]
    reached = [n for n, days in enumerate(sorted(reminder_days), 1) if waited >= days]
    return [IdentityStep("reminder", max(reached))] if reached else []


def lapse_date(requested_on: date, lapse_days: int) -> date:
    return requested_on + timedelta(days=lapse_days)


# A code as we write it ("483 921") or as people retype it ("483921", "483-921").
_CODE = re.compile(r"(?<!\d)(\d{3})[ \-.]?(\d{3})(?!\d)")


def format_code(code: str) -> str:
    return f"{code[:3]} {code[3:]}"


def codes_in(text: str) -> list[str]:
    """Every six-digit group in `text`, normalised to digits only."""
    return [m[1] + m[2] for m in _CODE.finditer(text)]

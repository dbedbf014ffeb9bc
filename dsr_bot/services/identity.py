"""Identity casework: ask for proof, take in ID copies, and let staff decide.

The desk is shared by the pipeline (new cases, replies with a code or a copy), the identity
sweep (checks, reminders, lapses, deletion) and the staff commands. A copy is stored encrypted
only until it has served: the automatic check deletes an unshielded copy at once, staff's
verdict deletes an accepted one, and `identity.max_copy_days` is the limit in any case. The case
log records what was asked, what showed on a refused copy (kinds of field, never values) and who
verified, with which kind of document.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dsr_bot.config import Settings
from dsr_bot.domain.cases import EventKind, RequestKind
from dsr_bot.domain.deadlines import AMSTERDAM, receipt_date
from dsr_bot.domain.identity import (
    COPY_TYPES,
    LIVE_COPY,
    SATISFIED,
    DocumentType,
    IdentityState,
    IdPolicy,
    codes_in,
    format_code,
    initial_identity,
    policy_for,
)
from dsr_bot.domain.inbound import InboundMessage
from dsr_bot.domain.outgoing import new_message_id, reachable
from dsr_bot.errors import DsrBotError
from dsr_bot.identity import id_check
from dsr_bot.identity.id_check import CheckResult, IdChecker
from dsr_bot.identity.vault import Vault
from dsr_bot.nlp.text import strip_history
from dsr_bot.replies import Rendered, Replies
from dsr_bot.secret_key import derive_key, read_secret, secret_file
from dsr_bot.services import casework
from dsr_bot.services.casework import log_event
from dsr_bot.store import queries
from dsr_bot.store.tables import CaseRow, IdCopyRow, OutboxRow

log = logging.getLogger(__name__)

CODE_LABEL = b"dsr-bot confirmation codes v1"
MAX_COPIES_PER_MESSAGE = 5

Row = dict[str, Any]
Event = tuple[EventKind, dict[str, object], str]


class IdentityError(DsrBotError):
    """A staff action on identity that the case's present state does not allow."""


class Checker(Protocol):
    def missing_tools(self) -> tuple[str, ...]: ...

    def check(self, data: bytes) -> CheckResult: ...


@dataclass(frozen=True, slots=True)
class Asked:
    """What the acknowledgement of a new case asks for: "copy", "code" or nothing."""

    identity: str | None = None
    code: str | None = None  # formatted, for the mail


class IdentityDesk:
    def __init__(
        self, *, settings: Settings, replies: Replies, vault: Vault, checker: Checker, secret: str
    ) -> None:
        self.settings = settings
        self.replies = replies
        self.vault = vault
        self.checker = checker
        self._code_key = derive_key(secret, CODE_LABEL)
        options = settings.identity.policy
        self.policies: Mapping[RequestKind, IdPolicy] = {
            kind: IdPolicy(getattr(options, kind.value)) for kind in RequestKind
        }
        self._domain = settings.mail.from_address.split("@", 1)[1]

    @classmethod
    def from_settings(cls, settings: Settings, replies: Replies) -> IdentityDesk:
        """The desk `dsr-bot run` uses: the secret from DSR_BOT_SECRET_KEY or its file, the
        vault in identity.storage_dir, the OCR and face checks of this machine."""
        secret = read_secret(secret_file(settings))
        return cls(
            settings=settings,
            replies=replies,
            vault=Vault(settings.identity.storage_dir, secret),
            checker=IdChecker(),
            secret=secret,
        )

    # --- new cases (the pipeline) -----------------------------------------------------------

    def open_case(
        self,
        case: Row,
        *,
        can_ask: bool,
        verified_before: str | None,
        now: datetime,
        channel: str = "email",
    ) -> tuple[Asked, list[Event]]:
        """Set a new case's identity fields. `can_ask`: an acknowledgement goes out that can
        carry the question; `verified_before`: a recent verified case of this person that the
        policy lets this one rely on. A code sent back into the chat it came from proves
        nothing, so in the chat "on_doubt" leaves the decision to staff."""
        # From its kinds once the classifier is sure of them; a triage case waits for staff.
        policy = None
        if case["state"] == "open":
            policy = policy_for([RequestKind(k) for k in case["kinds"]], self.policies)
            case["identity_policy"] = policy.value
        wanted = initial_identity(policy)
        if wanted in (IdentityState.COPY_REQUESTED, IdentityState.CODE_SENT) and verified_before:
            case["identity_state"] = IdentityState.VERIFIED.value
            return Asked(), [(EventKind.IDENTITY_INHERITED, {"from": verified_before}, "system")]
        if wanted not in (IdentityState.COPY_REQUESTED, IdentityState.CODE_SENT):
            case["identity_state"] = wanted.value
            return Asked(), []
        if not can_ask or (wanted is IdentityState.CODE_SENT and channel != "email"):
            # Nothing was asked, so nothing is waited for: staff ask from the case.
            case["identity_state"] = IdentityState.UNDECIDED.value
            return Asked(), []
        case["identity_state"] = wanted.value
        case["identity_requested_at"] = now
        if wanted is IdentityState.CODE_SENT:
            return Asked("code", self.code_for(case["reference"])), [
                (EventKind.IDENTITY_REQUESTED, {"method": "code"}, "system")
            ]
        # The clock stands still from the ask until a usable copy arrives (legal.md 1).
        case["paused_since"] = now.astimezone(AMSTERDAM).date()
        return Asked("copy"), [(EventKind.IDENTITY_REQUESTED, {"method": "copy"}, "system")]

    def code_for(self, reference: str) -> str:
        """The case's confirmation code, formatted ("483 921"): derived from the secret key and
        the reference, so it is never stored and a reminder can repeat it."""
        digest = hmac.new(self._code_key, reference.encode(), hashlib.sha256).digest()
        return format_code(f"{int.from_bytes(digest[:8], 'big') % 10**6:06d}")

    # --- replies on a case (the pipeline) ---------------------------------------------------

    def on_reply(
        self, case: CaseRow, msg: InboundMessage, message_id: int, now: datetime
    ) -> tuple[list[Row], list[Event]]:
        """A code or an ID copy in a reply from the requester. Returns id_copies rows (files
        already written, encrypted) and events; updates the case."""
        if case.state == "closed" or msg.sender != case.requester:
            return [], []
        state = IdentityState(case.identity_state)
        if state is IdentityState.CODE_SENT:
            # Only what the person typed: a quoted code proves nothing about who replies.
            expected = self.code_for(case.reference).replace(" ", "")
            if any(hmac.compare_digest(c, expected) for c in codes_in(strip_history(msg.text))):
                case.identity_state = IdentityState.CONFIRMED.value
                return [], [(EventKind.IDENTITY_CONFIRMED, {"method": "code"}, "requester")]
            return [], []
        if state is not IdentityState.COPY_REQUESTED:
            return [], []
        copies = [
            a
            for a in msg.attachments
            if a.content is not None and a.content_type.lower() in COPY_TYPES
        ][:MAX_COPIES_PER_MESSAGE]
        rows: list[Row] = []
        for attachment in copies:
            assert attachment.content is not None  # noqa: S101 - type narrowing only
            rows.append(
                {
                    "id": None,
                    "case_id": case.id,
                    "message_id": message_id,
                    "token": self.vault.put(attachment.content),
                    "content_type": attachment.content_type.lower()[:100],
                    "size": attachment.size,
                    "status": "pending",
                    "outcome": None,
                    "findings": [],
                    "received_at": now,
                    "checked_at": None,
                    "delete_by": now + timedelta(days=self.settings.identity.max_copy_days),
                    "deleted_at": None,
                    "deleted_reason": None,
                }
            )
        if not rows:
            return [], []
        return rows, [(EventKind.IDENTITY_COPY_RECEIVED, {"copies": len(rows)}, "requester")]

    # --- mail to the person ----------------------------------------------------------------

    def render(self, case: CaseRow, template: str, **context: Any) -> Rendered:
        """A message to the person of `case`, in their language, from their profile."""
        profile = self.settings.profiles[case.profile]
        return self.replies.for_profile(case.profile).render(
            template,
            case.language,
            name=case.requester_name,
            reference=case.reference,
            received_on=receipt_date(case.received_at),
            organisation=profile.organisation,
            parent_organisation=profile.parent_organisation,
            email=profile.email,
            website=profile.website,
            channel=case.channel,
            **context,
        )

    def mail_to_person(
        self, case: CaseRow, template: str, now: datetime, **context: Any
    ) -> Row | None:
        """An outbox row for the person on the channel the request came in on; None when there
        is no address to write to (the case log says so)."""
        if not reachable(case.channel, case.requester):
            return None
        profile = self.settings.profiles[case.profile]
        rendered = self.render(case, template, **context)
        return queries.outbox_row(
            case_id=case.id,
            kind=template,
            channel=case.channel,
            source=case.source,
            recipient=case.requester,
            sender=self.settings.mail.from_address,
            sender_name=profile.organisation,
            subject=rendered.subject,
            body=rendered.body,
            language=case.language,
            message_id=new_message_id(case.reference, self._domain),
            now=now,
            auto_submitted="auto-generated",
        )

    # --- deleting copies -------------------------------------------------------------------

    async def delete_copies(
        self, session: AsyncSession, case: CaseRow, reason: str, now: datetime, actor: str
    ) -> int:
        """Delete every stored copy of the case; the rows keep only that they were deleted."""
        rows = list(
            await session.scalars(
                select(IdCopyRow).where(
                    IdCopyRow.case_id == case.id, IdCopyRow.status.in_(LIVE_COPY)
                )
            )
        )
        for row in rows:
            self.vault.delete(row.token)
            row.status, row.deleted_at, row.deleted_reason = "deleted", now, reason
        if rows:
            log_event(session, case, now, EventKind.IDENTITY_COPY_DELETED, actor, reason=reason)
        return len(rows)


async def queue(session: AsyncSession, row: Row | None) -> int | None:
    if row is None:
        return None
    await queries.insert_with_ids(session, OutboxRow, [row])
    return int(row["id"])


# --- staff actions -------------------------------------------------------------------------


async def _case(session: AsyncSession, reference: str) -> CaseRow:
    case = await casework.case_by_reference(session, reference)
    if case.state == "closed":
        raise IdentityError(f"{case.reference} is closed")
    return case


async def request_copy(
    session: AsyncSession,
    desk: IdentityDesk,
    reference: str,
    actor: str,
    now: datetime,
    *,
    reason: str = "",
) -> CaseRow:
    """Staff ask for a shielded ID copy (a case with doubts, or after a rejected copy). The
    request goes out at once: it answers nothing, it only asks. The clock stands still."""
    case = await _case(session, reference)
    if case.identity_state in (IdentityState.COPY_REQUESTED, IdentityState.COPY_RECEIVED):
        raise IdentityError(f"{case.reference}: an ID copy has been asked for already")
    if case.identity_state == IdentityState.VERIFIED:
        raise IdentityError(f"{case.reference}: identity is verified already")
    outbox = await queue(
        session,
        desk.mail_to_person(case, "id_request", now, reason=reason.strip() or None),
    )
    if outbox is None:
        raise IdentityError(f"{case.reference}: no address to send the request to")
    case.identity_state = IdentityState.COPY_REQUESTED.value
    case.identity_requested_at = now
    casework.pause_clock(session, case, now, actor)
    log_event(
        session,
        case,
        now,
        EventKind.IDENTITY_REQUESTED,
        actor,
        method="copy",
        outbox=outbox,
        **({"reason": reason.strip()} if reason.strip() else {}),
    )
    return case


async def verify(
    session: AsyncSession,
    desk: IdentityDesk,
    reference: str,
    document: str,
    actor: str,
    now: datetime,
) -> CaseRow:
    """Identity verified by `actor` on `now`, from a `document`; every copy is deleted."""
    try:
        kind = DocumentType(document)
    except ValueError:
        choices = ", ".join(d.value for d in DocumentType)
        raise IdentityError(f"--document must be one of {choices}") from None
    case = await _case(session, reference)
    if case.identity_state == IdentityState.VERIFIED:
        raise IdentityError(f"{case.reference}: identity is verified already")
    deleted = await desk.delete_copies(session, case, "verified", now, actor)
    case.identity_state = IdentityState.VERIFIED.value
    log_event(
        session, case, now, EventKind.IDENTITY_VERIFIED, actor, document=kind.value, copies=deleted
    )
    casework.resume_clock(session, case, now, actor, desk.settings)
    return case


async def reject(
    session: AsyncSession,
    desk: IdentityDesk,
    reference: str,
    reason: str,
    actor: str,
    now: datetime,
) -> CaseRow:
    """The copy does not establish identity (another name, expired); it is deleted. Staff then
    ask again (`identity request`) or close the case."""
    if not reason.strip():
        raise IdentityError("give the reason (--reason): it is kept in the case log")
    case = await _case(session, reference)
    if case.identity_state in SATISFIED:
        raise IdentityError(f"{case.reference}: identity is {case.identity_state}")
    deleted = await desk.delete_copies(session, case, "rejected", now, actor)
    case.identity_state = IdentityState.REJECTED.value
    log_event(
        session,
        case,
        now,
        EventKind.IDENTITY_REJECTED,
        actor,
        reason=reason.strip(),
        copies=deleted,
    )
    return case


async def waive(
    session: AsyncSession,
    desk: IdentityDesk,
    reference: str,
    reason: str,
    actor: str,
    now: datetime,
) -> CaseRow:
    """No proof needed after all (staff know the person, or the request needs none)."""
    if not reason.strip():
        raise IdentityError("give the reason (--reason): it is kept in the case log")
    case = await _case(session, reference)
    if case.identity_state in SATISFIED:
        raise IdentityError(f"{case.reference}: identity is {case.identity_state} already")
    deleted = await desk.delete_copies(session, case, "waived", now, actor)
    case.identity_state = IdentityState.NOT_NEEDED.value
    log_event(
        session, case, now, EventKind.IDENTITY_WAIVED, actor, reason=reason.strip(), copies=deleted
    )
    casework.resume_clock(session, case, now, actor, desk.settings)
    return case


def viewable(content_type: str, data: bytes) -> tuple[str, bytes]:
    """A copy as a browser can show it under the console's strict policy: JPEG and PNG as they
    are, a PDF as a PNG of its first page (no viewer plugin, no script in the PDF)."""
    media = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}.get(content_type, content_type)
    if media in ("image/jpeg", "image/png"):
        return media, data
    return "image/png", id_check.pdf_as_png(data)


async def view_copy(
    session: AsyncSession, desk: IdentityDesk, reference: str, actor: str, now: datetime
) -> tuple[IdCopyRow, bytes]:
    """The newest stored copy of the case, decrypted, for staff to look at; logged."""
    case = await _case(session, reference)
    row = await session.scalar(
        select(IdCopyRow)
        .where(IdCopyRow.case_id == case.id, IdCopyRow.status == "review")
        .order_by(IdCopyRow.id.desc())
        .limit(1)
    )
    if row is None:
        raise IdentityError(f"{case.reference}: no ID copy is waiting for review")
    data = desk.vault.get(row.token)
    log_event(session, case, now, EventKind.IDENTITY_COPY_VIEWED, actor, copy=row.id)
    return row, data

"""What staff do to a case: assign, pause the clock, draft notices, approve drafts, close.

Every action is one transaction that also appends to the case's event log, with the staff
member as actor. Substantive messages to the person are drafts until someone approves them, and
`approve` is the only way a draft reaches the outbox. Four eyes (`console.four_eyes`, always for
refusals): the approver is neither the draft's writer nor its last editor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dsr_bot.config import Settings
from dsr_bot.domain.cases import EventKind
from dsr_bot.domain.deadlines import (
    AMSTERDAM,
    Deadlines,
    compute_deadlines,
    extension_available,
)
from dsr_bot.domain.identity import LIVE_COPY, IdentityState, blocks_decision, blocks_draft
from dsr_bot.domain.outgoing import new_message_id, reachable
from dsr_bot.errors import CaseNotFound, DsrBotError
from dsr_bot.nlp.entities import extract_entities
from dsr_bot.replies import Replies
from dsr_bot.services import accountability
from dsr_bot.services.staff_chat import StaffChat
from dsr_bot.store import queries
from dsr_bot.store.tables import (
    CaseEventRow,
    CaseRow,
    CollectedItemRow,
    DraftRow,
    IdCopyRow,
    MessageRow,
    OutboxRow,
)

DECISIONS = ("answered", "erased", "refused", "withdrawn", "identity_not_verified", "not_privacy")
# Drafts that say no to the person: four eyes whatever the settings say.
REFUSALS = frozenset({"refusal_notice", "identity_not_verified"})


@dataclass(frozen=True, slots=True)
class ReplyText:
    """Staff's own words in a reply: the template variable they go in, and whether the reply
    needs them."""

    variable: str
    required: bool


# Replies written from a full template (templates/<language>/<kind>.*.j2, the organisation's
# profile filling in the facts), each with one field of staff's words. restriction_lifting
# also needs the date (`lift_on`); objection_confirmed says what applied (unsubscribed,
# consent withdrawn). The data package goes with access_reply and portability_reply.
REPLY_TEXT = {
    "access_reply": ReplyText("text", required=False),
    "rectification_done": ReplyText("changes", required=True),
    "erasure_done": ReplyText("kept", required=False),
    "restriction_applied": ReplyText("text", required=False),
    "restriction_lifting": ReplyText("reasons", required=True),
    "portability_reply": ReplyText("text", required=False),
    "objection_confirmed": ReplyText("text", required=False),
    "clarification": ReplyText("question", required=True),
    "identity_verified": ReplyText("text", required=False),
}
# Proven by a code or a copy: what an identity_verified mail may follow (not a waiver).
VERIFIED = frozenset({IdentityState.CONFIRMED, IdentityState.VERIFIED})
# What staff may draft; an answer is their own text inside the greeting and closing.
DRAFT_KINDS = ("answer", "extension_notice", "refusal_notice", *REPLY_TEXT)
MAX_SUBJECT = 300
MAX_BODY = 50_000


class CaseworkError(DsrBotError):
    """A staff action that cannot be done in the case's present state. `code` names the rule
    that refused it where a caller words it otherwise (the console, in Dutch)."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Actor:
    who: str  # the staff member's e-mail address

    def __post_init__(self) -> None:
        if "@" not in self.who:
            raise CaseworkError(f"--by must be a staff e-mail address, not {self.who!r}")


def _today(now: datetime) -> date:
    return now.astimezone(AMSTERDAM).date()


async def case_by_reference(session: AsyncSession, reference: str) -> CaseRow:
    """The case a staff member names, as typed (any case); CaseNotFound otherwise."""
    case = await queries.case_by_reference(session, reference.strip().upper())
    if case is None:
        raise CaseNotFound(reference)
    return case


def log_event(
    session: AsyncSession,
    case: CaseRow,
    now: datetime,
    kind: EventKind,
    actor: str,
    **detail: object,
) -> None:
    """Append to the case's event log (flushed with the transaction) and touch the case."""
    session.add(CaseEventRow(case_id=case.id, at=now, actor=actor, kind=kind.value, detail=detail))
    case.updated_at = now


def recompute_due(case: CaseRow, settings: Settings) -> Deadlines:
    """The case's due dates from its receipt and the days its clock stood still."""
    due = compute_deadlines(
        case.received_at,
        promise_weeks=settings.profiles[case.profile].promise_weeks,
        paused_days=case.paused_days,
        extra_holidays=settings.deadlines.holiday_dates,
    )
    case.promise_due, case.legal_due, case.extended_due = due.promise, due.legal, due.legal_extended
    return due


async def assign(
    session: AsyncSession, reference: str, assignee: str | None, actor: Actor, now: datetime
) -> CaseRow:
    """Make someone responsible for the case, or no one (None)."""
    if assignee is not None and "@" not in assignee:
        raise CaseworkError(f"not an e-mail address: {assignee!r}")
    case = await case_by_reference(session, reference)
    case.assignee = assignee.strip().lower() if assignee is not None else None
    log_event(session, case, now, EventKind.ASSIGNED, actor.who, assignee=case.assignee)
    return case


def pause_clock(session: AsyncSession, case: CaseRow, now: datetime, actor: str) -> bool:
    """Stop the clock from today, logged; False when it stands still already."""
    if case.paused_since is not None:
        return False
    case.paused_since = _today(now)
    case.next_notice_on = None  # the sweep looks again (and finds the clock standing still)
    log_event(session, case, now, EventKind.CLOCK_PAUSED, actor, since=str(case.paused_since))
    return True


def resume_clock(
    session: AsyncSession, case: CaseRow, now: datetime, actor: str, settings: Settings
) -> bool:
    """Start the clock again, logged: the days it stood still move the due dates. False when
    it was running."""
    if case.paused_since is None:
        return False
    days = max(0, (_today(now) - case.paused_since).days)
    case.paused_days += days
    case.paused_since = None
    case.next_notice_on = None
    recompute_due(case, settings)
    log_event(
        session,
        case,
        now,
        EventKind.CLOCK_RESUMED,
        actor,
        paused_days=days,
        promise_due=str(case.promise_due),
        legal_due=str(case.legal_due),
    )
    return True


async def pause(
    session: AsyncSession, reference: str, actor: Actor, now: datetime, settings: Settings
) -> CaseRow:
    """Stop the clock while the person is asked for identifying information (legal.md 1)."""
    case = await case_by_reference(session, reference)
    if case.state == "closed":
        raise CaseworkError(f"{case.reference} is closed")
    if not pause_clock(session, case, now, actor.who):
        raise CaseworkError(f"{case.reference} is paused already")
    return case


async def resume(
    session: AsyncSession, reference: str, actor: Actor, now: datetime, settings: Settings
) -> CaseRow:
    case = await case_by_reference(session, reference)
    if not resume_clock(session, case, now, actor.who, settings):
        raise CaseworkError(f"{case.reference} is not paused")
    return case


def plain_text(text: str) -> str:
    """Text from a form as it goes in a mail: Unix line ends, no trailing spaces."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


async def draft_answer(
    session: AsyncSession,
    reference: str,
    text: str,
    actor: Actor,
    now: datetime,
    settings: Settings,
    replies: Replies,
) -> DraftRow:
    """A reply in staff's own words; the answer template adds the greeting, the reference and
    the closing in the case's language. Sent only once someone approves it."""
    text = plain_text(text)
    if not text:
        raise CaseworkError("write the text of the answer")
    if len(text) > MAX_BODY:
        raise CaseworkError(f"an answer has at most {MAX_BODY} characters")
    case = await case_by_reference(session, reference)
    if case.state == "closed":
        raise CaseworkError(f"{case.reference} is closed")
    draft = await _render_draft(
        session, case, "answer", "", {"text": text}, actor.who, now, settings, replies, keep=False
    )
    log_event(session, case, now, EventKind.DRAFTED, actor.who, draft=draft.id, notice="answer")
    return draft


async def draft_notice(
    session: AsyncSession,
    reference: str,
    kind: str,
    reasons: str,
    actor: Actor,
    now: datetime,
    settings: Settings,
    replies: Replies,
) -> DraftRow:
    """An extension notice (Art. 12(3)) or an Art. 12(4) notice, for someone else to approve."""
    if kind not in ("extension_notice", "refusal_notice"):
        raise CaseworkError(f"unknown notice {kind!r}")
    reasons = plain_text(reasons)
    if not reasons:
        raise CaseworkError("give the reasons (--reason): the person reads them")
    case = await case_by_reference(session, reference)
    if case.state == "closed":
        raise CaseworkError(f"{case.reference} is closed")
    context: dict[str, object] = {}
    if kind == "extension_notice":
        if case.extension_sent_at is not None:
            raise CaseworkError(f"{case.reference} has been extended already")
        due = recompute_due(case, settings)
        if not extension_available(due, _today(now)):
            raise CaseworkError(
                f"{case.reference}: the first month ended on {due.legal}; an extension can only "
                "be announced within it. Answer now, or send an Art. 12(4) notice."
            )
        context["new_due"] = due.legal_extended
    draft = await _render_draft(
        session, case, kind, reasons, context, actor.who, now, settings, replies
    )
    log_event(session, case, now, EventKind.DRAFTED, actor.who, draft=draft.id, notice=kind)
    return draft


async def draft_reply(
    session: AsyncSession,
    reference: str,
    kind: str,
    actor: Actor,
    now: datetime,
    settings: Settings,
    replies: Replies,
    *,
    text: str = "",
    lift_on: date | None = None,
    unsubscribed: bool = False,
    consent_withdrawn: bool = False,
) -> DraftRow:
    """One of the REPLY_TEXT replies, for someone else to approve: `text` goes in the kind's
    variable (what was corrected, what was kept and why, the question...)."""
    form = REPLY_TEXT.get(kind)
    if form is None:
        raise CaseworkError(f"unknown reply {kind!r}")
    text = plain_text(text)
    if form.required and not text:
        raise CaseworkError(f"{kind} needs the text for {form.variable!r}", code="text")
    if len(text) > MAX_BODY:
        raise CaseworkError(f"a text has at most {MAX_BODY} characters")
    case = await case_by_reference(session, reference)
    if case.state == "closed":
        raise CaseworkError(f"{case.reference} is closed")
    context: dict[str, object] = {form.variable: text}
    if kind == "restriction_lifting":
        # Art. 18(3): the person hears of it before the restriction is lifted.
        if lift_on is None or lift_on <= _today(now):
            raise CaseworkError("the restriction is lifted on a day after today", code="lift_on")
        context["lift_on"] = lift_on
    elif kind == "objection_confirmed":
        if not (text or unsubscribed or consent_withdrawn):
            raise CaseworkError("say what was stopped", code="objection")
        context |= {"unsubscribed": unsubscribed, "consent_withdrawn": consent_withdrawn}
    elif kind == "identity_verified":
        if IdentityState(case.identity_state) not in VERIFIED:
            raise CaseworkError(
                f"{case.reference}: identity is {case.identity_state}, not verified",
                code="not_verified",
            )
        context["due_on"] = case.promise_due
    reasons = context.pop("reasons", "")
    assert isinstance(reasons, str)  # noqa: S101 - type narrowing only
    draft = await _render_draft(
        session, case, kind, reasons, context, actor.who, now, settings, replies
    )
    log_event(session, case, now, EventKind.DRAFTED, actor.who, draft=draft.id, notice=kind)
    return draft


async def _render_draft(
    session: AsyncSession,
    case: CaseRow,
    kind: str,
    reasons: str,
    context: dict[str, object],
    created_by: str,
    now: datetime,
    settings: Settings,
    replies: Replies,
    *,
    keep: bool = True,
) -> DraftRow:
    """The draft from its template; `keep`: the context goes in its detail too (not an
    answer's text, which is the body itself)."""
    profile = settings.profiles[case.profile]
    rendered = replies.for_profile(case.profile).render(
        kind,
        case.language,
        name=case.requester_name,
        reference=case.reference,
        received_on=case.received_at.astimezone(AMSTERDAM).date(),
        reasons=reasons.strip(),
        channel=case.channel,
        **profile.reply_context(),
        **context,
    )
    detail = (
        ({k: str(v) for k, v in context.items()} | {"reasons": reasons.strip()}) if keep else {}
    )
    draft = DraftRow(
        case_id=case.id,
        kind=kind,
        language=case.language,
        subject=rendered.subject,
        body=rendered.body,
        detail=detail,
        status="draft",
        created_by=created_by,
        created_at=now,
    )
    session.add(draft)
    await session.flush()
    await announce_draft(session, draft, case, created_by, now, settings, replies)
    return draft


async def announce_draft(
    session: AsyncSession,
    draft: DraftRow,
    case: CaseRow,
    author: str,
    now: datetime,
    settings: Settings,
    replies: Replies,
) -> None:
    """The staff chat hears of a draft waiting for approval (when there is a staff chat)."""
    row = StaffChat(settings, replies).draft(
        draft_id=draft.id,
        case_id=case.id,
        reference=case.reference,
        kind=draft.kind,
        author=author,
        now=now,
    )
    if row is not None:
        await queries.insert_with_ids(session, OutboxRow, [row])


async def list_drafts(session: AsyncSession, status: str | None = "draft") -> list[DraftRow]:
    query = select(DraftRow).order_by(DraftRow.id)
    if status:
        query = query.where(DraftRow.status == status)
    return list(await session.scalars(query))


async def _draft(session: AsyncSession, draft_id: int) -> DraftRow:
    draft = await session.get(DraftRow, draft_id)
    if draft is None:
        raise CaseworkError(f"no draft {draft_id}")
    if draft.status != "draft":
        raise CaseworkError(f"draft {draft_id} was {draft.status} already")
    return draft


def four_eyes(draft: DraftRow, settings: Settings) -> bool:
    """Whether someone other than the writer and the last editor must approve this draft."""
    return settings.console.four_eyes or draft.kind in REFUSALS


def approval_conflict(draft: DraftRow, who: str, settings: Settings) -> str | None:
    """Why `who` may not approve this draft under four eyes ("wrote", "edited"), or None."""
    if not four_eyes(draft, settings):
        return None
    if draft.created_by == who:
        return "wrote"
    if draft.edited_by == who:
        return "edited"
    return None


async def approve(
    session: AsyncSession, draft_id: int, actor: Actor, now: datetime, settings: Settings
) -> DraftRow:
    """Send a draft: it goes to the outbox, on the channel the request came in on. The only
    way a draft is ever sent, and always with a DRAFT_APPROVED event."""
    draft = await _draft(session, draft_id)
    conflict = approval_conflict(draft, actor.who, settings)
    if conflict:
        raise CaseworkError(
            f"four eyes: someone other than who {conflict} draft {draft.id} approves it",
            code=conflict,
        )
    case = await session.get(CaseRow, draft.case_id)
    assert case is not None  # noqa: S101 - a foreign key
    if blocks_draft(IdentityState(case.identity_state), draft.kind):
        raise CaseworkError(
            f"{case.reference}: identity is {case.identity_state}; a reply that answers the "
            "request waits until identity is verified (dsr-bot identity verify/waive)",
            code="identity",
        )
    if not reachable(case.channel, case.requester):
        raise CaseworkError(f"{case.reference}: no address to send to", code="unreachable")
    profile = settings.profiles[case.profile]
    row = queries.outbox_row(
        case_id=case.id,
        kind=draft.kind,
        channel=case.channel,
        source=case.source,
        recipient=case.requester,
        sender=settings.mail.from_address,
        sender_name=profile.organisation,
        subject=draft.subject,
        body=draft.body,
        language=draft.language,
        message_id=new_message_id(case.reference, settings.mail.from_address.split("@")[1]),
        now=now,
    )
    await queries.insert_with_ids(session, OutboxRow, [row])
    outbox_id = int(row["id"])
    from dsr_bot.services import packages  # here: packages uses this module's errors and log

    await packages.attach_package(session, case, draft.kind, outbox_id, now, settings)
    draft.status, draft.decided_by, draft.decided_at = "approved", actor.who, now
    draft.outbox_id = outbox_id
    log_event(
        session, case, now, EventKind.DRAFT_APPROVED, actor.who, draft=draft.id, notice=draft.kind
    )
    if draft.kind == "extension_notice":
        case.extension_sent_at = now
        case.next_notice_on = None
        log_event(session, case, now, EventKind.EXTENDED, actor.who, new_due=str(case.extended_due))
    elif draft.kind == "refusal_notice":
        await _close(session, case, "refused", actor.who, now)
    return draft


async def discard(session: AsyncSession, draft_id: int, actor: Actor, now: datetime) -> DraftRow:
    draft = await _draft(session, draft_id)
    case = await session.get(CaseRow, draft.case_id)
    assert case is not None  # noqa: S101 - a foreign key
    draft.status, draft.decided_by, draft.decided_at = "discarded", actor.who, now
    log_event(session, case, now, EventKind.DRAFT_DISCARDED, actor.who, draft=draft.id)
    return draft


async def edit_draft(
    session: AsyncSession, draft_id: int, subject: str, body: str, actor: Actor, now: datetime
) -> bool:
    """Change a draft's text before it is approved; the editor is kept, since under four eyes
    they may not approve it either. False when nothing changed."""
    draft = await _draft(session, draft_id)
    subject, body = " ".join(subject.split()), plain_text(body)
    if not subject or not body:
        raise CaseworkError("a draft needs a subject and a text")
    if len(subject) > MAX_SUBJECT or len(body) > MAX_BODY:
        raise CaseworkError(f"at most {MAX_SUBJECT} characters of subject, {MAX_BODY} of text")
    body += "\n"  # as rendered drafts end
    if (subject, body) == (draft.subject, draft.body):
        return False
    draft.subject, draft.body = subject, body
    draft.edited_by, draft.edited_at = actor.who, now
    case = await session.get(CaseRow, draft.case_id)
    assert case is not None  # noqa: S101 - a foreign key
    log_event(session, case, now, EventKind.DRAFT_EDITED, actor.who, draft=draft.id)
    return True


async def reject_draft(
    session: AsyncSession, draft_id: int, reason: str, actor: Actor, now: datetime
) -> DraftRow:
    """Not sent: the writer reads the reason on the case and drafts again."""
    draft = await _draft(session, draft_id)
    reason = plain_text(reason)
    if not reason:
        raise CaseworkError("give the reason: the writer of the draft reads it")
    if len(reason) > MAX_SUBJECT * 10:
        raise CaseworkError(f"a reason has at most {MAX_SUBJECT * 10} characters")
    case = await session.get(CaseRow, draft.case_id)
    assert case is not None  # noqa: S101 - a foreign key
    draft.status, draft.decided_by, draft.decided_at = "rejected", actor.who, now
    draft.reject_reason = reason
    log_event(
        session, case, now, EventKind.DRAFT_REJECTED, actor.who, draft=draft.id, reason=reason
    )
    return draft


async def close(
    session: AsyncSession,
    reference: str,
    decision: str,
    actor: Actor,
    now: datetime,
    *,
    ledger_key: bytes | None = None,
) -> CaseRow:
    """Close with a decision. "erased" also records the erasure in the ledger (keyed hashes of
    the person's e-mail address and the phone numbers in their messages) and scrubs the bot's
    own copies, so a restored backup can be erased again."""
    if decision not in DECISIONS:
        raise CaseworkError(f"decision must be one of {', '.join(DECISIONS)}")
    case = await case_by_reference(session, reference)
    if case.state == "closed":
        raise CaseworkError(f"{case.reference} is closed already")
    if blocks_decision(IdentityState(case.identity_state), decision):
        raise CaseworkError(
            f"{case.reference}: identity is {case.identity_state}; verify it (or waive it, with "
            f"a reason) before closing as {decision}"
        )
    if decision == "erased":
        if ledger_key is None:
            raise CaseworkError("closing as erased needs the erasure ledger key")
        bodies = await session.scalars(select(MessageRow.body).where(MessageRow.case_id == case.id))
        phones = sorted(
            {
                e.value
                for body in bodies
                for e in extract_entities(body)
                if e.kind == "phone" and e.value
            }
        )
        await accountability.record_erasure(
            session,
            ledger_key,
            case=case,
            identifiers={"email": [case.requester], "phone": phones},
            now=now,
            actor=actor.who,
        )
    await _close(session, case, decision, actor.who, now)
    return case


async def close_as(
    session: AsyncSession, case: CaseRow, decision: str, who: str, now: datetime
) -> None:
    """Close a case the caller has loaded (and checked may be closed)."""
    await _close(session, case, decision, who, now)


async def _close(
    session: AsyncSession, case: CaseRow, decision: str, who: str, now: datetime
) -> None:
    case.state, case.decision, case.closed_at, case.paused_since = "closed", decision, now, None
    log_event(session, case, now, EventKind.CLOSED, who, decision=decision)
    # A closed case needs no ID copy: the identity sweep deletes what is left at its next run.
    await session.execute(
        update(IdCopyRow)
        .where(IdCopyRow.case_id == case.id, IdCopyRow.status.in_(LIVE_COPY))
        .values(delete_by=now)
        .execution_options(synchronize_session=False)
    )
    # Nor the data collected for its package: that went out with the approved reply (a copy
    # waits, sealed, with its outbox row until it is sent), and the systems keep the original.
    await session.execute(delete(CollectedItemRow).where(CollectedItemRow.case_id == case.id))

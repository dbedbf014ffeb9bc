"""From InboundMessage to stored case: dedupe, mask BSNs, match, classify, open, acknowledge.

A batch is handled in one transaction, together with the mailbox cursor, so a crash mid-batch
leaves nothing half-done: the batch is read again and nothing is stored twice. Each message is
first planned in memory (a failure there quarantines only that message), then the whole batch is
written with a few bulk statements. Should the database refuse the bulk write (a value it will not
take), the batch is written again one message at a time and the offender is quarantined.
With several workers, the messages' unique keys (source and IMAP UID, Message-ID) decide: a batch
that another worker stored first is read again, and only what is new is stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.config import Settings
from dsr_bot.domain import workflow
from dsr_bot.domain.bsn import mask_bsns
from dsr_bot.domain.cases import EventKind, Reference, find_references, initial_state
from dsr_bot.domain.deadlines import compute_deadlines, receipt_date
from dsr_bot.domain.hygiene import automatic_reason
from dsr_bot.domain.identity import IdentityState
from dsr_bot.domain.inbound import InboundMessage, Quarantined
from dsr_bot.domain.outgoing import new_message_id, reachable
from dsr_bot.domain.workflow import Route
from dsr_bot.errors import StoreError
from dsr_bot.nlp.classifier import Classification, Classifier, answer_language
from dsr_bot.replies import Replies
from dsr_bot.services import tasks
from dsr_bot.services.backlog import Backlog
from dsr_bot.services.identity import Asked, IdentityDesk
from dsr_bot.services.staff_chat import StaffChat
from dsr_bot.store import queries
from dsr_bot.store.engine import describe_failure
from dsr_bot.store.tables import (
    CaseEventRow,
    CaseRow,
    DraftRow,
    IdCopyRow,
    MessageRow,
    OutboxRow,
    TaskRow,
)

log = logging.getLogger(__name__)

Item = InboundMessage | Quarantined
ACK = "acknowledgement"
# Column limits (PostgreSQL enforces them): longer values are cut, never refused.
_ADDRESS, _NAME, _MSGID = 320, 200, 998
UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE


@dataclass(frozen=True, slots=True)
class MailboxCursor:
    """How far an IMAP mailbox has been read, saved in the same transaction as the batch."""

    source: str
    uidvalidity: int
    last_uid: int


@dataclass(frozen=True, slots=True)
class Outcome:
    route: Route | None  # None: a duplicate, already stored before
    reference: str | None = None
    acknowledged: bool = False
    id_copies: int = 0  # ID copies stored from it, for the identity worker to check


Row = dict[str, Any]  # column values of a row to insert: cheaper than an ORM object


@dataclass
class _Plan:
    """What to store for one message, decided before anything is written."""

    item: Item
    route: Route
    reason: str | None = None
    case: CaseRow | None = None  # an existing case the message belongs to
    new_case: Row | None = None  # or the case it opens
    ack: Row | None = None
    ack_suppressed: str | None = None
    id_copies: int = 0
    events: list[tuple[EventKind, dict[str, object], str]] = field(default_factory=list)

    @property
    def case_id(self) -> int | None:
        if self.new_case is not None:
            return int(self.new_case["id"])
        return self.case.id if self.case is not None else None

    @property
    def reference(self) -> str | None:
        if self.new_case is not None:
            return str(self.new_case["reference"])
        return self.case.reference if self.case is not None else None


def utcnow() -> datetime:
    return datetime.now(UTC)


def mask_message(msg: InboundMessage) -> InboundMessage:
    """Every free-text field a person wrote, BSNs masked: nothing unmasked gets past this point."""
    return dataclasses.replace(
        msg,
        # NULs go first: dropping them after masking could join digits into a BSN.
        subject=mask_bsns(_storable(msg.subject)),
        text=mask_bsns(_storable(msg.text)),
        sender=_storable(msg.sender[:_ADDRESS]),
        sender_name=mask_bsns(_storable(msg.sender_name))[:_NAME] if msg.sender_name else None,
        message_id=_clip_id(msg.message_id),
        in_reply_to=_clip_id(msg.in_reply_to),
        references=tuple(r for r in msg.references if len(r) <= _MSGID),
        attachments=tuple(
            dataclasses.replace(a, filename=mask_bsns(a.filename) if a.filename else None)
            for a in msg.attachments
        ),
    )


def _clip_id(value: str | None) -> str | None:
    return value[:_MSGID] if value else None


class Pipeline:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        classifier: Classifier,
        replies: Replies,
        on_outbox: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
        identity: IdentityDesk | None = None,
        on_id_copy: Callable[[], None] = lambda: None,
        staff_chat: StaffChat | None = None,
        backlog: Backlog | None = None,
    ) -> None:
        self._sessions = sessions
        self.backlog = backlog or Backlog()
        self._staff_chat = staff_chat or StaffChat(settings, replies)
        self._identity = identity or IdentityDesk.from_settings(settings, replies)
        self._on_id_copy = on_id_copy
        self._settings = settings
        self._classifier = classifier
        self._replies = replies
        self._on_outbox = on_outbox
        self._clock = clock
        self._own = {settings.mail.from_address} | {p.email for p in settings.profiles.values()}
        self._extra_holidays = settings.deadlines.holiday_dates
        self._domain = settings.mail.from_address.split("@", 1)[1]

    async def classify_ahead(self, items: Sequence[Item]) -> list[Classification | None]:
        """Classify a batch before its turn to be stored, so that the model (in its worker
        process) works while the batch before it is written. Pass the result to `ingest`."""
        messages = [i for i in items if isinstance(i, InboundMessage)]
        answers = iter(await self._classifier.classify([(m.subject, m.text) for m in messages]))
        return [next(answers) if isinstance(i, InboundMessage) else None for i in items]

    async def ingest(
        self,
        items: Sequence[Item],
        cursor: MailboxCursor | None = None,
        ahead: Future[list[Classification | None]] | None = None,
    ) -> list[Outcome]:
        """Store a batch; raises StoreError when the database fails (the caller retries).

        `ahead`: the batch's `classify_ahead` result, running or done; when it failed, the
        batch is classified again here.
        """
        now = self._clock()
        try:
            with self.backlog.storing(len(items)):
                async with self._sessions.begin() as session:
                    known = await _result(ahead, len(items))
                    outcomes = await self.ingest_within(session, items, now, known)
                    if cursor is not None:
                        await queries.save_mailbox_state(
                            session,
                            source=cursor.source,
                            uidvalidity=cursor.uidvalidity,
                            last_uid=cursor.last_uid,
                            now=now,
                        )
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store incoming messages: {describe_failure(exc)}") from exc
        self.committed(outcomes)
        return outcomes

    async def ingest_within(
        self,
        session: AsyncSession,
        items: Sequence[Item],
        now: datetime,
        known: Sequence[Classification | None] | None = None,
    ) -> list[Outcome]:
        """Store a batch inside the caller's transaction (a chat update commits with its
        conversation); call `committed` once it is. `known`: classifications already made, one
        per item (a kind the person chose in the chat)."""
        try:
            async with session.begin_nested():
                return await self._ingest(session, items, now, known)
        except DBAPIError as exc:
            if not queries.refused_value(exc):
                raise
            if queries.sqlstate(exc) == UNIQUE_VIOLATION:
                # Another worker stored some of these messages meanwhile (its transaction held
                # the unique keys until it committed): read again, they are known now.
                log.info("batch overlapped another worker's; storing what is new")
                try:
                    async with session.begin_nested():
                        return await self._ingest(session, items, now, known)
                except DBAPIError as again:
                    if not queries.refused_value(again):
                        raise
                    exc = again
            log.warning("batch refused (%s); storing one by one", _sqlstate(exc))
            return [await self._one_by_one(session, item, now) for item in items]

    def committed(self, outcomes: Sequence[Outcome]) -> None:
        """Wake the sender and the identity worker for what a committed batch queued."""
        if any(o.acknowledged for o in outcomes) or (
            self._staff_chat.enabled and any(o.route is Route.NEW_CASE for o in outcomes)
        ):
            self._on_outbox()
        if any(o.id_copies for o in outcomes):
            self._on_id_copy()

    async def _one_by_one(self, session: AsyncSession, item: Item, now: datetime) -> Outcome:
        try:
            async with session.begin_nested():
                return (await self._ingest(session, [item], now))[0]
        except DBAPIError as exc:
            if not queries.refused_value(exc):
                raise
            reason = f"the database refused to store it ({_sqlstate(exc)})"
            quarantined = dataclasses.replace(_as_quarantined(item, reason), message_id=None)
            async with session.begin_nested():
                return (await self._ingest(session, [quarantined], now))[0]

    async def _ingest(
        self,
        session: AsyncSession,
        items: Sequence[Item],
        now: datetime,
        known: Sequence[Classification | None] | None = None,
    ) -> list[Outcome]:
        fresh = await self._fresh(session, items)
        plans: dict[int, _Plan] = {}
        masked: dict[int, InboundMessage] = {}
        for i in fresh:
            item = items[i]
            if isinstance(item, Quarantined):
                plans[i] = _Plan(item=item, route=Route.QUARANTINED, reason=item.reason)
                continue
            try:
                masked[i] = mask_message(item)
            except Exception as exc:
                # Unmasked text must not be stored: keep only what identifies the message.
                reason = _internal(item, exc)
                bare = Quarantined(
                    item.channel, item.source, item.external_id, item.received_at, reason
                )
                plans[i] = _Plan(item=bare, route=Route.QUARANTINED, reason=reason)
        await self._plan_routes(session, masked, plans, known)
        await self._assign_references(session, plans, now)
        await self._plan_acknowledgements(session, plans, masked, now)
        await self._write(session, plans, masked, now)
        outcomes = [Outcome(route=None) for _ in items]
        for i, plan in plans.items():
            outcomes[i] = Outcome(
                route=plan.route,
                reference=plan.reference,
                acknowledged=plan.ack is not None,
                id_copies=plan.id_copies,
            )
        return outcomes

    async def _fresh(self, session: AsyncSession, items: Sequence[Item]) -> list[int]:
        """Indexes of the items not stored before (by source+external id, or Message-ID)."""
        known_ext: set[tuple[str, str]] = set()
        known_mid: set[str] = set()
        for source in {i.source for i in items}:
            ext, mids = await queries.known_message_keys(
                session,
                source,
                [i.external_id for i in items if i.source == source],
                [mid for i in items if (mid := _clip_id(i.message_id))],
            )
            known_ext |= {(source, e) for e in ext}
            known_mid |= mids
        fresh = []
        for index, item in enumerate(items):
            key = (item.source, item.external_id)
            # Compared as stored: a Message-ID over the column's size is kept cut.
            mid = _clip_id(item.message_id)
            if key in known_ext or (mid and mid in known_mid):
                continue
            known_ext.add(key)
            if mid:
                known_mid.add(mid)
            fresh.append(index)
        return fresh

    async def _plan_routes(
        self,
        session: AsyncSession,
        masked: dict[int, InboundMessage],
        plans: dict[int, _Plan],
        ahead: Sequence[Classification | None] | None,
    ) -> None:
        by_ref = await queries.cases_by_references(
            session, {str(r) for m in masked.values() for r in find_references(m.subject)}
        )
        by_id = await queries.cases_by_message_ids(
            session, {mid for m in masked.values() for mid in _thread_ids(m)}
        )
        for i, msg in masked.items():
            try:
                plans[i] = self._route(msg, by_ref, by_id)
            except Exception as exc:
                plans[i] = _Plan(item=msg, route=Route.QUARANTINED, reason=_internal(msg, exc))
        new = [i for i in masked if plans[i].new_case is not None]
        known = [ahead[i] for i in new] if ahead is not None else []
        if ahead is not None and all(c is not None for c in known):
            classifications = [c for c in known if c is not None]
        else:
            classifications = await self._classify([masked[i] for i in new])
        for i, classification in zip(new, classifications, strict=True):
            self._label(plans[i], masked[i], classification)

    def _route(
        self, msg: InboundMessage, by_ref: dict[str, CaseRow], by_id: dict[str, CaseRow]
    ) -> _Plan:
        case = next(
            (by_ref[str(r)] for r in find_references(msg.subject) if str(r) in by_ref), None
        )
        if case is None:
            case = next((by_id[m] for m in reversed(_thread_ids(msg)) if m in by_id), None)
        automatic = automatic_reason(msg.sender, msg.auto_headers, self._own)
        route = workflow.route_message(matched_case=case is not None, automatic=automatic)
        if route is Route.ADDED_TO_CASE:
            detail: dict[str, object] = {"channel": msg.channel.value}
            if automatic:
                detail["automatic"] = automatic
            plan = _Plan(item=msg, route=route, case=case)
            plan.events.append((EventKind.MESSAGE_RECEIVED, detail, "requester"))
            return plan
        if route is Route.IGNORED:
            return _Plan(item=msg, route=route, reason=automatic)
        profile = self._settings.profile_for(msg.source)
        due = compute_deadlines(
            msg.received_at,
            promise_weeks=profile.promise_weeks,
            extra_holidays=self._extra_holidays,
        )
        new_case: Row = {
            "id": None,  # ids and references are assigned for the whole batch at once
            "reference": None,
            "profile": self._settings.profile_name_for(msg.source),
            "channel": msg.channel.value,
            "source": msg.source,
            "requester": msg.sender,
            "requester_name": msg.sender_name,
            "language": profile.default_language,  # until _label reads the text
            "kinds": [],
            "scores": None,
            "confidence": None,
            "classified_by": None,
            "state": initial_state(frozenset(), confident=False).value,
            "subject": msg.subject,
            "received_at": msg.received_at,
            "promise_due": due.promise,
            "legal_due": due.legal,
            "extended_due": due.legal_extended,
            "extension_sent_at": None,
            "paused_days": 0,
            "paused_since": None,
            "assignee": None,
            "decision": None,
            "closed_at": None,
            "next_notice_on": None,
            "identity_policy": None,
            "identity_state": "undecided",
            "identity_requested_at": None,
        }
        plan = _Plan(item=msg, route=route, new_case=new_case)
        plan.events.append((EventKind.OPENED, {"channel": msg.channel.value}, "system"))
        return plan

    def _complaint_drafts(self, cases: list[Row], now: datetime) -> list[Row]:
        """A complaint about data handling gets its own acknowledgement (internal handling, then
        the AP route), drafted for staff to approve."""
        drafts = []
        for case in cases:
            if "complaint" not in case["kinds"]:
                continue
            profile = self._settings.profiles[case["profile"]]
            rendered = self._replies.for_profile(case["profile"]).render(
                "complaint_acknowledgement",
                case["language"],
                name=case["requester_name"],
                reference=case["reference"],
                received_on=receipt_date(case["received_at"]),
                promise_on=case["promise_due"],
                organisation=profile.organisation,
                parent_organisation=profile.parent_organisation,
                email=profile.email,
                website=profile.website,
                channel=case["channel"],
            )
            drafts.append(
                {
                    "case_id": case["id"],
                    "kind": "complaint_acknowledgement",
                    "language": case["language"],
                    "subject": rendered.subject,
                    "body": rendered.body,
                    "detail": {},
                    "status": "draft",
                    "created_by": "dsr-bot",
                    "created_at": now,
                    "decided_by": None,
                    "decided_at": None,
                    "outbox_id": None,
                }
            )
        return drafts

    async def _write_drafts(self, session: AsyncSession, cases: list[Row], now: datetime) -> None:
        drafts = self._complaint_drafts(cases, now)
        if not drafts:
            return
        await queries.insert_with_ids(session, DraftRow, drafts)
        by_id = {case["id"]: case for case in cases}
        notices = [
            self._staff_chat.draft(
                draft_id=int(d["id"]),
                case_id=int(d["case_id"]),
                reference=str(by_id[d["case_id"]]["reference"]),
                kind=str(d["kind"]),
                author="dsr-bot",
                now=now,
            )
            for d in drafts
        ]
        await queries.insert_with_ids(session, OutboxRow, [n for n in notices if n is not None])

    async def _classify(self, messages: list[InboundMessage]) -> list[Classification]:
        """All at once; when that fails, one by one, and a message that still fails is left
        unclassified for staff triage: a classifier fault never loses or blocks a request."""
        if not messages:
            return []
        try:
            return await self._classifier.classify([(m.subject, m.text) for m in messages])
        except Exception as exc:
            log.warning(
                "classifier failed on a batch (%s); retrying one by one", type(exc).__name__
            )
        out = []
        for msg in messages:
            try:
                out.extend(await self._classifier.classify([(msg.subject, msg.text)]))
            except Exception as exc:
                _log_internal(msg, exc)
                out.append(Classification(kinds=frozenset(), model="failed"))
        return out

    def _label(self, plan: _Plan, msg: InboundMessage, classification: Classification) -> None:
        case = plan.new_case
        assert case is not None  # noqa: S101 - type narrowing only
        default = self._settings.profile_for(msg.source).default_language
        case["language"] = answer_language(classification, msg.subject, msg.text, default)
        case["kinds"] = classification.labels
        case["scores"] = classification.scores or None
        case["confidence"] = classification.confidence
        case["classified_by"] = classification.model
        case["state"] = initial_state(
            classification.kinds, confident=classification.confident
        ).value
        plan.events.append(
            (
                EventKind.CLASSIFIED,
                {
                    "kinds": classification.labels,
                    "scores": classification.scores,
                    "confidence": classification.confidence,
                    "confident": classification.confident,
                    "model": classification.model,
                },
                "system",
            )
        )

    async def _assign_references(
        self, session: AsyncSession, plans: dict[int, _Plan], now: datetime
    ) -> None:
        new = [p for p in plans.values() if p.new_case is not None]
        keys = {id(p): self._reference_key(p) for p in new}
        for key, count in Counter(keys.values()).items():
            first = await queries.reserve_reference_numbers(session, key.counter_key, count)
            for offset, plan in enumerate(p for p in new if keys[id(p)] == key):
                assert plan.new_case is not None  # noqa: S101 - type narrowing only
                plan.new_case["reference"] = str(Reference(key.prefix, key.year, first + offset))
                plan.new_case["created_at"] = plan.new_case["updated_at"] = now

    def _reference_key(self, plan: _Plan) -> Reference:
        prefix = self._settings.profile_for(plan.item.source).reference_prefix
        return Reference(prefix, receipt_date(plan.item.received_at).year, 0)

    async def _plan_acknowledgements(
        self,
        session: AsyncSession,
        plans: dict[int, _Plan],
        masked: dict[int, InboundMessage],
        now: datetime,
    ) -> None:
        """The acknowledgement of each new case, which also asks for proof of identity where
        the policy wants it (one mail, not two)."""
        new = {i: p for i, p in plans.items() if p.new_case is not None}
        recent = Counter(
            await queries.recent_outbox_counts(
                session,
                recipients={masked[i].sender for i in new},
                kind=ACK,
                since=now - timedelta(hours=1),
            )
        )
        verified = await self._recently_verified(session, {masked[i].sender for i in new}, now)
        for i, plan in new.items():
            msg = masked[i]
            case = plan.new_case
            assert case is not None  # noqa: S101 - type narrowing only
            if not reachable(msg.channel.value, msg.sender):
                plan.ack_suppressed = "no address to reply to"
            else:
                decision = workflow.decide_acknowledgement(
                    recent_acks_to_sender=recent[msg.sender],
                    limit_per_hour=self._settings.mail.ack_limit_per_hour,
                )
                if not decision.send:
                    plan.ack_suppressed = decision.reason
            asked, events = self._identity.open_case(
                case,
                can_ask=plan.ack_suppressed is None,
                channel=msg.channel.value,
                verified_before=verified.get(msg.sender),
                now=now,
            )
            if plan.ack_suppressed is not None:
                plan.events += events
                continue
            try:
                plan.ack = self._acknowledgement(plan, msg, now, asked)
            except Exception as exc:
                plan.ack_suppressed = f"could not write the acknowledgement ({type(exc).__name__})"
                _log_internal(msg, exc)
                if asked.identity is None:
                    plan.events += events  # e.g. an inherited verification still holds
                else:
                    # The question did not go out: nothing is waited for; staff ask from the case.
                    case["identity_state"] = IdentityState.UNDECIDED.value
                    case["paused_since"] = case["identity_requested_at"] = None
                continue
            plan.events += events
            recent[msg.sender] += 1

    async def _recently_verified(
        self, session: AsyncSession, senders: set[str], now: datetime
    ) -> dict[str, str]:
        """Sender -> reference of a case verified within identity.reuse_verified_days; empty
        unless the policy lets a new request rely on an earlier verification."""
        days = self._settings.identity.reuse_verified_days
        if not days or not senders:
            return {}
        return await queries.recently_verified(session, senders, since=now - timedelta(days=days))

    def _acknowledgement(
        self, plan: _Plan, msg: InboundMessage, now: datetime, asked: Asked
    ) -> Row:
        case = plan.new_case
        assert case is not None  # noqa: S101 - type narrowing only
        profile = self._settings.profile_for(msg.source)
        # The case's dates, computed once when it was planned.
        promise_on, legal_on = case["promise_due"], case["legal_due"]
        rendered = self._replies.for_profile(case["profile"]).render(
            ACK,
            case["language"],
            reference=case["reference"],
            name=msg.sender_name,
            received_on=receipt_date(msg.received_at),
            promise_on=promise_on,
            organisation=profile.organisation,
            parent_organisation=profile.parent_organisation,
            email=profile.email,
            website=profile.website,
            identity=asked.identity,
            code=asked.code,
            channel=msg.channel.value,
            kinds=case["kinds"] if case["state"] == "open" else [],  # a section for each
        )
        references = [*msg.references, *([msg.message_id] if msg.message_id else [])]
        plan.events.append(
            (
                EventKind.ACK_QUEUED,
                {"promise_on": promise_on.isoformat(), "legal_on": legal_on.isoformat()},
                "system",
            )
        )
        return queries.outbox_row(
            case_id=None,  # set once the case has its id
            kind=ACK,
            channel=msg.channel.value,
            source=msg.source,
            recipient=msg.sender,
            sender=self._settings.mail.from_address,
            sender_name=profile.organisation,
            subject=rendered.subject,
            body=rendered.body,
            language=case["language"],
            message_id=new_message_id(case["reference"], self._domain),
            now=now,
            in_reply_to=msg.message_id,
            references=references[-20:],
            auto_submitted="auto-replied",
        )

    async def _write(
        self,
        session: AsyncSession,
        plans: dict[int, _Plan],
        masked: dict[int, InboundMessage],
        now: datetime,
    ) -> None:
        """A few bulk statements for the whole batch: cases, outgoing mail, messages, events."""
        ordered = [plans[i] for i in sorted(plans)]
        new_cases = [p.new_case for p in ordered if p.new_case is not None]
        await queries.insert_with_ids(session, CaseRow, new_cases)
        await self._write_drafts(session, new_cases, now)
        checklists = tasks.checklist_rows(new_cases, self._settings, now)
        await queries.insert_rows(session, TaskRow, checklists)
        for plan in ordered:
            if plan.ack is not None:
                plan.ack["case_id"] = plan.case_id
        outgoing = [p.ack for p in ordered if p.ack is not None]
        outgoing += self._staff_chat.new_cases(new_cases, now)
        await queries.insert_with_ids(session, OutboxRow, outgoing)
        rows = [
            (
                plans[i],
                _message_row(masked[i], plans[i], now)
                if i in masked
                else _quarantined_row(plans[i], now),
            )
            for i in sorted(plans)
        ]
        await queries.insert_with_ids(session, MessageRow, [row for _, row in rows])
        await self._take_identity(session, rows, masked, plans, now)
        touched = {p.case.id for p in ordered if p.case is not None}
        if touched:
            await queries.touch_cases(session, touched, now)
        events: list[Row] = []
        for plan, row in rows:
            self._log(plan, row)
            case_id = plan.case_id
            if case_id is None:
                continue
            for kind, detail, actor in plan.events:
                if kind is EventKind.MESSAGE_RECEIVED:
                    detail = {**detail, "message": row["id"]}
                elif kind is EventKind.ACK_QUEUED and plan.ack is not None:
                    detail = {**detail, "outbox": plan.ack["id"]}
                events.append(_event(case_id, now, kind, detail, actor))
            if plan.ack_suppressed:
                events.append(
                    _event(case_id, now, EventKind.ACK_SUPPRESSED, {"reason": plan.ack_suppressed})
                )
        await queries.insert_rows(session, CaseEventRow, events)

    async def _take_identity(
        self,
        session: AsyncSession,
        rows: list[tuple[_Plan, Row]],
        masked: dict[int, InboundMessage],
        plans: dict[int, _Plan],
        now: datetime,
    ) -> None:
        """Replies on a case: a confirmation code, or an ID copy (stored encrypted, checked by
        the identity worker once this batch is committed)."""
        by_plan = {id(plan): i for i, plan in plans.items()}
        copies: list[Row] = []
        for plan, row in rows:
            if plan.route is not Route.ADDED_TO_CASE or plan.case is None:
                continue
            found, events = self._identity.on_reply(
                plan.case, masked[by_plan[id(plan)]], int(row["id"]), now
            )
            plan.id_copies = len(found)
            copies += found
            plan.events += events
        if copies:
            await queries.insert_with_ids(session, IdCopyRow, copies)

    @staticmethod
    def _log(plan: _Plan, row: Row) -> None:
        where = f"{row['source']}/{row['external_id']}"
        if plan.route is Route.QUARANTINED:
            log.warning("quarantined message %s: %s", where, plan.reason)
        elif plan.route is Route.IGNORED:
            log.info("ignored automatic message %s", where)
        elif plan.reference is not None:
            verb = "opened case" if plan.new_case is not None else "added to case"
            log.info("%s %s from message %s", verb, plan.reference, row["id"])


async def _result(
    ahead: Future[list[Classification | None]] | None, count: int
) -> list[Classification | None] | None:
    """The classifications made ahead, or None when there are none or they failed."""
    if ahead is None:
        return None
    try:
        answers = await asyncio.wrap_future(ahead)
    except Exception as exc:
        log.warning("classifying ahead failed (%s); classifying again", type(exc).__name__)
        return None
    return answers if len(answers) == count else None


def _sqlstate(exc: DBAPIError) -> str:
    state = queries.sqlstate(exc)
    return f"SQLSTATE {state}" if state else type(exc).__name__


def _thread_ids(msg: InboundMessage) -> list[str]:
    """Ids this message answers, oldest first (References), then In-Reply-To."""
    return [*msg.references, *([msg.in_reply_to] if msg.in_reply_to else [])]


def _internal(item: Item, exc: Exception) -> str:
    _log_internal(item, exc)
    return f"internal error while handling the message ({type(exc).__name__})"


def _log_internal(item: Item, exc: Exception) -> None:
    # Type and stack only: an exception's message may quote what the person wrote.
    log.error(
        "message %s/%s could not be handled: %s\n%s",
        item.source,
        item.external_id,
        type(exc).__name__,
        "".join(traceback.format_tb(exc.__traceback__)),
    )


def _message_row(msg: InboundMessage, plan: _Plan, now: datetime) -> Row:
    return {
        "id": None,
        "channel": msg.channel.value,
        "source": msg.source,
        "external_id": msg.external_id,
        "message_id": msg.message_id,
        "in_reply_to": msg.in_reply_to,
        "references": list(msg.references),
        "sender": msg.sender,
        "sender_name": msg.sender_name,
        "subject": msg.subject,
        "body": msg.text,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in msg.attachments
        ],
        "defects": list(msg.defects),
        "route": plan.route.value,
        "reason": plan.reason,
        "case_id": plan.case_id if plan.route is not Route.QUARANTINED else None,
        "received_at": msg.received_at,
        "stored_at": now,
    }


def _quarantined_row(plan: _Plan, now: datetime) -> Row:
    item = plan.item
    assert isinstance(item, Quarantined)  # noqa: S101 - type narrowing only
    return {
        "id": None,
        "channel": item.channel.value,
        # Cut to the columns' sizes: a quarantined row must always be storable.
        "source": item.source[:40],
        "external_id": item.external_id[:200],
        "message_id": _clip_id(item.message_id),
        "in_reply_to": None,
        "references": [],
        "sender": item.sender[:_ADDRESS] if item.sender else None,
        "sender_name": None,
        "subject": mask_bsns(_storable(item.subject)),
        "body": mask_bsns(_storable(item.text)),
        "attachments": [],
        "defects": [],
        "route": Route.QUARANTINED.value,
        "reason": plan.reason,
        "case_id": None,
        "received_at": item.received_at,
        "stored_at": now,
    }


def _event(
    case_id: int, now: datetime, kind: EventKind, detail: dict[str, object], actor: str = "system"
) -> Row:
    return {"case_id": case_id, "at": now, "actor": actor, "kind": kind.value, "detail": detail}


def _storable(text: str) -> str:
    return text.replace("\x00", "")  # PostgreSQL text cannot hold NUL


def _as_quarantined(item: Item, reason: str) -> Quarantined:
    if isinstance(item, Quarantined):
        return dataclasses.replace(item, reason=reason)
    return Quarantined(
        channel=item.channel,
        source=item.source,
        external_id=item.external_id,
        received_at=item.received_at,
        reason=reason,
        sender=item.sender,
        subject=item.subject,
        text=item.text,
        message_id=item.message_id,
    )

"""From InboundMessage to stored case: dedupe, mask BSNs, match, classify, open, acknowledge.

One call handles a batch in one transaction, together with the mailbox cursor, so a crash
mid-batch leaves nothing half-done: the batch is read again and nothing is stored twice.
"""

from __future__ import annotations

import dataclasses
import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.config import Settings
from dsr_bot.domain import workflow
from dsr_bot.domain.bsn import mask_bsns
from dsr_bot.domain.cases import EventKind, Reference, find_references, initial_state
from dsr_bot.domain.deadlines import compute_deadlines, receipt_date
from dsr_bot.domain.hygiene import automatic_reason
from dsr_bot.domain.inbound import Channel, InboundMessage, Quarantined
from dsr_bot.domain.outgoing import new_message_id
from dsr_bot.domain.workflow import Route
from dsr_bot.errors import StoreError
from dsr_bot.nlp.classifier import Classifier
from dsr_bot.nlp.language import guess_language
from dsr_bot.replies import Replies
from dsr_bot.store import queries
from dsr_bot.store.tables import CaseEventRow, CaseRow, MessageRow, OutboxRow

log = logging.getLogger(__name__)

Item = InboundMessage | Quarantined
ACK = "acknowledgement"


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


def utcnow() -> datetime:
    return datetime.now(UTC)


def mask_message(msg: InboundMessage) -> InboundMessage:
    """Every free-text field a person wrote, BSNs masked: nothing unmasked gets past this point."""
    return dataclasses.replace(
        msg,
        subject=mask_bsns(msg.subject),
        text=mask_bsns(msg.text),
        sender_name=mask_bsns(msg.sender_name) if msg.sender_name else None,
        attachments=tuple(
            dataclasses.replace(a, filename=mask_bsns(a.filename) if a.filename else None)
            for a in msg.attachments
        ),
    )


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
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._classifier = classifier
        self._replies = replies
        self._on_outbox = on_outbox
        self._clock = clock
        self._own = {settings.mail.from_address} | {p.email for p in settings.profiles.values()}
        self._extra_holidays = tuple(
            date.fromisoformat(d) for d in settings.deadlines.extra_holidays
        )

    async def ingest(
        self, items: Sequence[Item], cursor: MailboxCursor | None = None
    ) -> list[Outcome]:
        """Store a batch; raises StoreError when the database fails (the caller retries)."""
        now = self._clock()
        try:
            async with self._sessions.begin() as session:
                outcomes = await self._ingest(session, items, now)
                if cursor is not None:
                    await queries.save_mailbox_state(
                        session,
                        source=cursor.source,
                        uidvalidity=cursor.uidvalidity,
                        last_uid=cursor.last_uid,
                        now=now,
                    )
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store incoming messages: {type(exc).__name__}") from exc
        if any(o.acknowledged for o in outcomes):
            self._on_outbox()
        return outcomes

    async def _ingest(
        self, session: AsyncSession, items: Sequence[Item], now: datetime
    ) -> list[Outcome]:
        known_ext: set[tuple[str, str]] = set()
        known_mid: set[str] = set()
        for source in {i.source for i in items}:
            ext, mids = await queries.known_message_keys(
                session,
                source,
                [i.external_id for i in items if i.source == source],
                [i.message_id for i in items if i.message_id],
            )
            known_ext |= {(source, e) for e in ext}
            known_mid |= mids
        outcomes = []
        for item in items:
            if (item.source, item.external_id) in known_ext or (
                item.message_id and item.message_id in known_mid
            ):
                outcomes.append(Outcome(route=None))
                continue
            known_ext.add((item.source, item.external_id))
            if item.message_id:
                known_mid.add(item.message_id)
            outcomes.append(await self._one_safely(session, item, now))
        return outcomes

    async def _one_safely(self, session: AsyncSession, item: Item, now: datetime) -> Outcome:
        """One message in a savepoint: whatever goes wrong with it, it is quarantined, not lost."""
        try:
            async with session.begin_nested():
                if isinstance(item, Quarantined):
                    return await self._quarantine(session, item, now)
                return await self._one(session, mask_message(item), now)
        except (SQLAlchemyError, ConnectionError):
            raise
        except Exception as exc:
            # Type and stack only: an exception's message may quote what the person wrote.
            log.error(
                "message %s/%s could not be handled: %s\n%s",
                item.source,
                item.external_id,
                type(exc).__name__,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            reason = f"internal error while handling the message ({type(exc).__name__})"
            async with session.begin_nested():
                return await self._quarantine(session, _as_quarantined(item, reason), now)

    async def _quarantine(self, session: AsyncSession, item: Quarantined, now: datetime) -> Outcome:
        session.add(
            MessageRow(
                channel=item.channel.value,
                source=item.source,
                external_id=item.external_id,
                message_id=item.message_id,
                in_reply_to=None,
                references=[],
                sender=item.sender,
                sender_name=None,
                subject=mask_bsns(item.subject),
                body=mask_bsns(item.text),
                attachments=[],
                defects=[],
                route=Route.QUARANTINED.value,
                reason=item.reason,
                case_id=None,
                received_at=item.received_at,
                stored_at=now,
            )
        )
        log.warning("quarantined message %s/%s: %s", item.source, item.external_id, item.reason)
        return Outcome(route=Route.QUARANTINED)

    async def _one(self, session: AsyncSession, msg: InboundMessage, now: datetime) -> Outcome:
        case = await self._match_case(session, msg)
        automatic = automatic_reason(msg.sender, msg.auto_headers, self._own)
        route = workflow.route_message(matched_case=case is not None, automatic=automatic)
        acknowledged = False
        if route is Route.NEW_CASE:
            case = await self._open_case(session, msg, now)
        row = _message_row(msg, route, automatic if route is Route.IGNORED else None, case, now)
        session.add(row)
        await session.flush()
        if case is None:
            log.info("ignored automatic message %s/%s", msg.source, msg.external_id)
            return Outcome(route=route)
        if route is Route.ADDED_TO_CASE:
            detail: dict[str, object] = {"message": row.id, "channel": msg.channel.value}
            if automatic:
                detail["automatic"] = automatic
            self._event(session, case, now, EventKind.MESSAGE_RECEIVED, detail, actor="requester")
            case.updated_at = now
            log.info("message %s added to case %s", row.id, case.reference)
        else:
            acknowledged = await self._acknowledge(session, case, msg, now)
            log.info("opened case %s from message %s", case.reference, row.id)
        return Outcome(route=route, reference=case.reference, acknowledged=acknowledged)

    async def _match_case(self, session: AsyncSession, msg: InboundMessage) -> CaseRow | None:
        for ref in find_references(msg.subject):
            case = await queries.case_by_reference(session, str(ref))
            if case is not None:
                return case
        ids = [*msg.references, *([msg.in_reply_to] if msg.in_reply_to else [])]
        return await queries.case_by_message_ids(session, ids)

    async def _open_case(
        self, session: AsyncSession, msg: InboundMessage, now: datetime
    ) -> CaseRow:
        profile = self._settings.profile_for(msg.source)
        classification = self._classifier.classify(msg.subject, msg.text)
        language = guess_language(f"{msg.subject}\n{msg.text}", profile.default_language)
        year = receipt_date(msg.received_at).year
        key = Reference(profile.reference_prefix, year, 0).counter_key
        number = await queries.next_reference_number(session, key)
        reference = Reference(profile.reference_prefix, year, number)
        kinds = sorted(k.value for k in classification.kinds)
        case = CaseRow(
            reference=str(reference),
            profile=self._profile_name(msg.source),
            channel=msg.channel.value,
            source=msg.source,
            requester=msg.sender,
            requester_name=msg.sender_name,
            language=language,
            kinds=kinds,
            state=initial_state(classification.kinds).value,
            subject=msg.subject,
            received_at=msg.received_at,
            created_at=now,
            updated_at=now,
        )
        session.add(case)
        await session.flush()
        self._event(session, case, now, EventKind.OPENED, {"channel": msg.channel.value})
        self._event(
            session,
            case,
            now,
            EventKind.CLASSIFIED,
            {
                "kinds": kinds,
                "confidence": classification.confidence,
                "model": classification.model,
            },
        )
        return case

    async def _acknowledge(
        self, session: AsyncSession, case: CaseRow, msg: InboundMessage, now: datetime
    ) -> bool:
        if msg.channel is not Channel.EMAIL or "@" not in msg.sender:
            decision = workflow.AckDecision(send=False, reason="no e-mail address to reply to")
        else:
            recent = await queries.count_recent_outbox(
                session, recipient=msg.sender, kind=ACK, since=now - timedelta(hours=1)
            )
            decision = workflow.decide_acknowledgement(
                recent_acks_to_sender=recent, limit_per_hour=self._settings.mail.ack_limit_per_hour
            )
        if not decision.send:
            self._event(session, case, now, EventKind.ACK_SUPPRESSED, {"reason": decision.reason})
            return False
        profile = self._settings.profile_for(msg.source)
        due = compute_deadlines(
            msg.received_at,
            promise_weeks=profile.promise_weeks,
            extra_holidays=self._extra_holidays,
        )
        rendered = self._replies.render(
            ACK,
            case.language,
            reference=case.reference,
            name=msg.sender_name,
            received_on=due.received_on,
            promise_on=due.promise,
            organisation=profile.organisation,
            parent_organisation=profile.parent_organisation,
            email=profile.email,
            website=profile.website,
        )
        domain = self._settings.mail.from_address.split("@", 1)[1]
        message_id = new_message_id(case.reference, domain)
        references = [*msg.references, *([msg.message_id] if msg.message_id else [])]
        outbox = OutboxRow(
            case_id=case.id,
            kind=ACK,
            channel=msg.channel.value,
            source=msg.source,
            recipient=msg.sender,
            sender=self._settings.mail.from_address,
            sender_name=profile.organisation,
            subject=rendered.subject,
            body=rendered.body,
            language=case.language,
            message_id=message_id,
            in_reply_to=msg.message_id,
            references=references[-20:],
            auto_submitted="auto-replied",
            status="pending",
            attempts=0,
            next_attempt_at=now,
            last_error=None,
            created_at=now,
            sent_at=None,
        )
        session.add(outbox)
        await session.flush()
        self._event(
            session,
            case,
            now,
            EventKind.ACK_QUEUED,
            {
                "outbox": outbox.id,
                "promise_on": due.promise.isoformat(),
                "legal_on": due.legal.isoformat(),
            },
        )
        return True

    def _profile_name(self, source: str) -> str:
        for box in self._settings.mailboxes:
            if box.name == source:
                return box.profile
        return "default"

    @staticmethod
    def _event(
        session: AsyncSession,
        case: CaseRow,
        now: datetime,
        kind: EventKind,
        detail: dict[str, object],
        actor: str = "system",
    ) -> None:
        session.add(
            CaseEventRow(case_id=case.id, at=now, actor=actor, kind=kind.value, detail=detail)
        )


def _message_row(
    msg: InboundMessage, route: Route, reason: str | None, case: CaseRow | None, now: datetime
) -> MessageRow:
    return MessageRow(
        channel=msg.channel.value,
        source=msg.source,
        external_id=msg.external_id,
        message_id=msg.message_id,
        in_reply_to=msg.in_reply_to,
        references=list(msg.references),
        sender=msg.sender,
        sender_name=msg.sender_name,
        subject=msg.subject,
        body=msg.text,
        attachments=[
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in msg.attachments
        ],
        defects=list(msg.defects),
        route=route.value,
        reason=reason,
        case_id=case.id if case else None,
        received_at=msg.received_at,
        stored_at=now,
    )


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

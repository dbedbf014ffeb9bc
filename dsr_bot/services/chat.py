"""The chat desk: one Telegram update at a time, stored with the update offset.

A private chat runs the conversation of domain/chat.py: what the person wrote is classified,
the kind confirmed with buttons, the e-mail address asked, and the case opened through the
pipeline (so it is deduplicated, masked, acknowledged and asked for identity like mail). Later
messages, ID photos included, go to that case. Everything the bot says goes through the outbox.
Each update is one transaction with its offset: a restart never handles an update twice.

In the staff chat, only allow-listed Telegram users act, each as their staff account and with
its role; what they do and what they are refused is in the case log and the audit log.
"""

from __future__ import annotations

import dataclasses
import logging
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.config import Settings
from dsr_bot.domain import chat
from dsr_bot.domain.bsn import mask_bsns
from dsr_bot.domain.cases import EventKind, RequestKind
from dsr_bot.domain.chat import (
    LABELS,
    Answered,
    ChatState,
    ChatUpdate,
    Conversation,
    OpenCase,
    Say,
    Stale,
    Status,
    Suggestion,
    ToCase,
)
from dsr_bot.domain.identity import IdentityState
from dsr_bot.domain.inbound import Attachment, Channel, InboundMessage, Quarantined
from dsr_bot.domain.outgoing import new_message_id
from dsr_bot.domain.roles import Permission, may
from dsr_bot.domain.wording import REFUSED_NL
from dsr_bot.errors import ChannelError, StoreError
from dsr_bot.nlp.classifier import Classification, Classifier, language_of
from dsr_bot.replies import Replies
from dsr_bot.services import casework
from dsr_bot.services import staff as accounts
from dsr_bot.services.casework import Actor, CaseworkError
from dsr_bot.services.pipeline import Outcome, Pipeline
from dsr_bot.services.staff_chat import APPROVE, StaffChat
from dsr_bot.store import queries
from dsr_bot.store.tables import CaseRow, ChannelCursorRow, ChatRow, MessageRow, OutboxRow

log = logging.getLogger(__name__)

SOURCE = "telegram"
CURSOR = "telegram"
MAX_FILE_BYTES = 20 * 1024 * 1024  # what the Bot API lets a bot download
CHOSEN_BY_PERSON = "chosen in the chat"

Row = dict[str, Any]
Effect = Callable[[], Awaitable[None]]


class ChatApi(Protocol):
    """What the desk asks of the Bot API directly (not through the outbox): short-lived
    answers to button presses, and fetching a file the person sent."""

    async def answer(self, callback_id: str, text: str, *, alert: bool = False) -> None: ...

    async def edit(self, chat_id: int, message_id: int, text: str) -> None: ...

    async def download(self, file_id: str, max_bytes: int) -> bytes | None:
        """The file; None when it cannot be had (too large, gone); raises ChannelError when
        the API is down, and the update is tried again later."""
        ...


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclasses.dataclass
class _Turn:
    """What one update leads to, collected in its transaction."""

    update: ChatUpdate
    now: datetime
    outbox: list[Row] = dataclasses.field(default_factory=list)
    effects: list[Effect] = dataclasses.field(default_factory=list)
    outcomes: list[Outcome] = dataclasses.field(default_factory=list)
    notify: bool = False  # the outbox has something new (an approved draft)


class ChatDesk:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        replies: Replies,
        classifier: Classifier,
        pipeline: Pipeline,
        api: ChatApi,
        on_outbox: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._replies = replies
        self._classifier = classifier
        self._pipeline = pipeline
        self._api = api
        self._on_outbox = on_outbox
        self._clock = clock
        self._staff_chat = StaffChat(settings, replies)
        self._profile = settings.profiles[settings.telegram.profile]
        self._brand = replies.for_profile(settings.telegram.profile)  # the chat's templates
        self._domain = settings.mail.from_address.split("@", 1)[1]

    async def position(self) -> int | None:
        async with self._sessions() as session:
            return await _position(session)

    async def handle(self, update: ChatUpdate) -> None:
        """Raises StoreError when the database fails (the poller retries the update)."""
        turn = _Turn(update=_masked(update), now=self._clock())
        try:
            content = await self._prefetch(turn.update)
            async with self._sessions.begin() as session:
                position = await _position(session)
                if position is not None and update.update_id <= position:
                    return  # handled before a restart
                if update.private:
                    await self._private(session, turn, content)
                elif update.chat_id == self._staff_chat.chat_id:
                    await self._staff(session, turn)
                await self._write(session, turn)
                await _advance(session, update.update_id, turn.now)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store a chat update: {type(exc).__name__}") from exc
        except ChannelError:
            raise  # the Bot API is down (fetching a photo): the update is tried again
        except Exception as exc:
            await self._failed(turn, exc)
            return
        await self._after(turn)

    # --- the person's private chat ---------------------------------------------------------

    async def _private(self, session: AsyncSession, turn: _Turn, content: bytes | None) -> None:
        update = turn.update
        row = await session.get(ChatRow, update.chat_id)
        conv = (
            Conversation.load(row.state, row.language, row.data, row.case_id)
            if row is not None
            else Conversation()
        )
        case = await self._open_case_of(session, conv)
        if conv.state is ChatState.OPEN and case is None:
            conv = chat.closed(conv)
        suggestion = None
        if chat.needs_suggestion(conv, update):
            suggestion = await self._suggest(f"{conv.text}\n\n{update.text}".strip())
        conv, actions = chat.step(conv, update, suggestion)
        for action in actions:
            if isinstance(action, Say):
                self._say(turn, conv, action, case_id=conv.case_id)
            elif isinstance(action, Answered):
                label = LABELS[conv.language][action.label_key]
                self._answered(turn, label)
            elif isinstance(action, Stale):
                self._stale(turn, conv.language)
            elif isinstance(action, OpenCase):
                conv = await self._open(session, turn, conv, action)
            elif isinstance(action, ToCase):
                assert case is not None  # noqa: S101 - type narrowing only
                await self._to_case(session, turn, conv, case, content)
            elif isinstance(action, Status):
                await self._status(session, turn, conv, action.reference)
        if row is None:
            session.add(
                ChatRow(
                    chat_id=update.chat_id,
                    state=conv.state.value,
                    language=conv.language,
                    data=conv.data(),
                    case_id=conv.case_id,
                    updated_at=turn.now,
                )
            )
        else:
            row.state, row.language, row.data = conv.state.value, conv.language, conv.data()
            row.case_id, row.updated_at = conv.case_id, turn.now

    async def _open_case_of(self, session: AsyncSession, conv: Conversation) -> CaseRow | None:
        """The chat's case while it is open; None once it is closed (or purged)."""
        if conv.state is not ChatState.OPEN or conv.case_id is None:
            return None
        case = await session.get(CaseRow, conv.case_id)
        return case if case is not None and case.state != "closed" else None

    async def _suggest(self, text: str) -> Suggestion:
        language = language_of("", text, self._profile.default_language)
        try:
            [found] = await self._classifier.classify([("", text)])
        except Exception as exc:
            # No suggestion: the person chooses from the list instead.
            log.warning("classifier failed on a chat message (%s)", type(exc).__name__)
            return Suggestion((), confident=False, language=language)
        return Suggestion(tuple(found.labels), confident=found.confident, language=language)

    async def _open(
        self, session: AsyncSession, turn: _Turn, conv: Conversation, action: OpenCase
    ) -> Conversation:
        update = turn.update
        first = action.first_message or update.message_id or update.update_id
        message = _inbound(update, first, "Verzoek via Telegram", action.text, action.started_at)
        kinds = frozenset(RequestKind(k) for k in action.kinds)
        chosen = Classification(
            kinds=kinds,
            confidence=1.0,
            model=CHOSEN_BY_PERSON,
            # "Something else" is for staff to sort out.
            confident=kinds != {RequestKind.OTHER},
        )
        turn.outcomes += await self._pipeline.ingest_within(session, [message], turn.now, [chosen])
        case = await self._case_of_message(session, message.external_id)
        if case is None:  # quarantined: staff see it; the person is told so
            self._say(turn, conv, Say("failed"))
            return Conversation(language=conv.language)
        case.contact_email = action.email
        casework.log_event(
            session,
            case,
            turn.now,
            EventKind.CHAT_CONFIRMED,
            "requester",
            suggested=list(action.suggested),
            chosen=list(action.kinds),
            contact_email="ja" if action.email else "nee",
        )
        return chat.opened(conv, case.id, case.reference)

    async def _case_of_message(self, session: AsyncSession, external_id: str) -> CaseRow | None:
        case_id = await session.scalar(
            select(MessageRow.case_id).where(
                MessageRow.source == SOURCE, MessageRow.external_id == external_id
            )
        )
        return await session.get(CaseRow, case_id) if case_id is not None else None

    async def _prefetch(self, update: ChatUpdate) -> bytes | None:
        """The file of an update, fetched before the transaction, when it may be the ID copy
        a case waits for; nothing else is downloaded."""
        if not update.private or update.file is None:
            return None
        async with self._sessions() as session:
            row = await session.get(ChatRow, update.chat_id)
            if row is None or row.case_id is None or row.state != ChatState.OPEN.value:
                return None
            case = await session.get(CaseRow, row.case_id)
        if case is None or case.identity_state != IdentityState.COPY_REQUESTED.value:
            return None
        return await self._api.download(update.file.file_id, MAX_FILE_BYTES)

    async def _to_case(
        self,
        session: AsyncSession,
        turn: _Turn,
        conv: Conversation,
        case: CaseRow,
        content: bytes | None,
    ) -> None:
        update = turn.update
        attachments: tuple[Attachment, ...] = ()
        if update.file is not None:
            size = len(content) if content is not None else update.file.size or 0
            attachments = (Attachment(update.file.name, update.file.content_type, size, content),)
        message = _inbound(
            update,
            update.message_id or update.update_id,
            f"Chatbericht {case.reference}",
            update.text,
            update.at,
            attachments,
        )
        outcomes = await self._pipeline.ingest_within(session, [message], turn.now)
        turn.outcomes += outcomes
        copies = sum(o.id_copies for o in outcomes)
        self._say(
            turn,
            conv,
            Say("copy_received" if copies else "received", {"reference": case.reference}),
            case_id=case.id,
        )

    async def _status(
        self, session: AsyncSession, turn: _Turn, conv: Conversation, reference: str | None
    ) -> None:
        if not reference:
            self._say(turn, conv, Say("status_usage"))
            return
        # Only the chat that opened the case may ask about it.
        case = await session.scalar(
            select(CaseRow).where(
                CaseRow.reference == reference,
                CaseRow.channel == Channel.TELEGRAM.value,
                CaseRow.requester == str(turn.update.chat_id),
            )
        )
        if case is None:
            self._say(turn, conv, Say("status_unknown", {"reference": reference[:40]}))
            return
        waiting = {
            IdentityState.COPY_REQUESTED.value: "copy",
            IdentityState.CODE_SENT.value: "code",
        }.get(case.identity_state)
        context = {
            "reference": case.reference,
            "kinds": list(case.kinds) if case.state != "triage" else [],
            "state": case.state,
            "waiting": waiting,
            "due": case.promise_due,
        }
        self._say(turn, conv, Say("status", context), case_id=case.id)

    # --- the staff chat ----------------------------------------------------------------------

    async def _staff(self, session: AsyncSession, turn: _Turn) -> None:
        update = turn.update
        if update.button is None or update.callback_id is None:
            return  # the group talks among itself
        if not update.button.startswith(APPROVE):
            self._stale(turn, "nl")
            return
        try:
            draft_id = int(update.button.removeprefix(APPROVE))
        except ValueError:
            self._stale(turn, "nl")
            return
        email = self._settings.telegram.staff_accounts.get(str(update.user_id))
        account = await accounts.by_email(session, email) if email else None
        who = email or f"telegram:{update.user_id}"
        if account is None or not account.active or not may(account.role, Permission.APPROVE):
            reason = "not allow-listed" if account is None else "no approve permission"
            accounts.audit(
                session,
                turn.now,
                who,
                "telegram_refused",
                draft=draft_id,
                telegram_user=update.user_id,
                reason=reason,
            )
            self._reply(
                turn,
                "U mag in deze chat geen concepten goedkeuren. Vraag een privacy officer, of "
                "laat uw Telegram-account koppelen aan uw account in de console.",
            )
            return
        try:
            async with session.begin_nested():
                await casework.approve(
                    session, draft_id, Actor(account.email), turn.now, self._settings
                )
        except CaseworkError as exc:
            accounts.audit(
                session,
                turn.now,
                account.email,
                "telegram_refused",
                draft=draft_id,
                telegram_user=update.user_id,
                reason=exc.code or str(exc),
            )
            self._reply(turn, REFUSED_NL.get(exc.code or "", str(exc)))
            return
        accounts.audit(
            session,
            turn.now,
            account.email,
            "draft_approved",
            draft=draft_id,
            via="telegram",
            telegram_user=update.user_id,
        )
        text = self._staff_chat.approved_text(update.button_message_text, account.email)
        chat_id, message_id, callback = update.chat_id, update.message_id, update.callback_id
        turn.effects.append(lambda: self._api.answer(callback, "Goedgekeurd en verstuurd."))
        if message_id is not None:
            turn.effects.append(lambda: self._api.edit(chat_id, message_id, text))
        turn.notify = True

    # --- saying things -------------------------------------------------------------------------

    def _say(
        self, turn: _Turn, conv: Conversation, say: Say, *, case_id: int | None = None
    ) -> None:
        profile = self._profile
        context = {
            "organisation": profile.organisation,
            "privacy_url": profile.privacy_url,
            "prefix": profile.reference_prefix,
            "email": profile.email,
            "reference": conv.reference,
            **say.context,
        }
        text = self._brand.text(say.prompt, conv.language, **context)
        labels = LABELS[conv.language]
        buttons = [
            [{"text": labels[b.text_key], "data": b.data} for b in row] for row in say.buttons
        ]
        turn.outbox.append(
            queries.outbox_row(
                case_id=case_id,
                kind=f"chat_{say.prompt}"[:40],
                channel=Channel.TELEGRAM.value,
                source=SOURCE,
                recipient=str(turn.update.chat_id),
                sender=self._settings.mail.from_address,
                sender_name=profile.organisation,
                subject="",
                body=text,
                language=conv.language,
                message_id=new_message_id(conv.reference or "chat", self._domain),
                now=turn.now,
                buttons=buttons or None,
            )
        )

    def _answered(self, turn: _Turn, label: str) -> None:
        """The question shows the answer and loses its buttons; the button stops spinning."""
        update = turn.update
        chat_id, message_id, callback = update.chat_id, update.message_id, update.callback_id
        text = f"{update.button_message_text}\n\n» {label}".strip()
        if callback is not None:
            turn.effects.append(lambda: self._api.answer(callback, ""))
        if message_id is not None:
            turn.effects.append(lambda: self._api.edit(chat_id, message_id, text))

    def _stale(self, turn: _Turn, language: str) -> None:
        self._reply(turn, self._brand.text("stale", language))

    def _reply(self, turn: _Turn, text: str) -> None:
        callback = turn.update.callback_id
        if callback is not None:
            turn.effects.append(lambda: self._api.answer(callback, text, alert=True))

    async def _write(self, session: AsyncSession, turn: _Turn) -> None:
        await queries.insert_with_ids(session, OutboxRow, turn.outbox)

    async def _after(self, turn: _Turn) -> None:
        """Once committed: wake the sender and the identity worker, then the direct answers
        (best effort: a lost answer leaves a button spinning, nothing worse)."""
        self._pipeline.committed(turn.outcomes)
        if turn.outbox or turn.notify:
            self._on_outbox()
        for effect in turn.effects:
            try:
                await effect()
            except Exception as exc:
                log.info("telegram: a direct answer failed (%s)", type(exc).__name__)

    async def _failed(self, turn: _Turn, exc: Exception) -> None:
        """An update the desk could not handle (a bug): kept as a quarantined message for
        staff, the person told, and the offset moved on so one update cannot stop the chat."""
        update = turn.update
        log.error(
            "chat update %s could not be handled: %s\n%s",
            update.update_id,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        item = Quarantined(
            channel=Channel.TELEGRAM,
            source=SOURCE,
            external_id=f"update:{update.update_id}",
            received_at=update.at,
            reason=f"internal error while handling the chat message ({type(exc).__name__})",
            sender=str(update.chat_id),
            text=update.text,
        )
        retry = _Turn(update=update, now=turn.now)
        try:
            async with self._sessions.begin() as session:
                position = await _position(session)
                if position is not None and update.update_id <= position:
                    return
                if update.private:
                    retry.outcomes = await self._pipeline.ingest_within(session, [item], turn.now)
                    self._say(retry, Conversation(), Say("failed"))
                    await self._write(session, retry)
                await _advance(session, update.update_id, turn.now)
        except SQLAlchemyError as db_exc:
            raise StoreError(f"cannot store a chat update: {type(db_exc).__name__}") from db_exc
        await self._after(retry)


def _inbound(
    update: ChatUpdate,
    message_id: int,
    subject: str,
    text: str,
    received_at: datetime,
    attachments: tuple[Attachment, ...] = (),
) -> InboundMessage:
    """A chat message as the pipeline takes it: the chat is the sender, the Telegram message
    id within that chat the external id (so the same message is never stored twice)."""
    return InboundMessage(
        channel=Channel.TELEGRAM,
        source=SOURCE,
        external_id=f"{update.chat_id}:{message_id}",
        sender=str(update.chat_id),
        sender_name=update.user_name,
        subject=subject,
        text=text,
        received_at=received_at,
        attachments=attachments,
    )


def _masked(update: ChatUpdate) -> ChatUpdate:
    """Nothing the person typed is kept or passed on with a BSN in it."""
    return dataclasses.replace(
        update,
        text=mask_bsns(update.text),
        args=mask_bsns(update.args),
        button_message_text=mask_bsns(update.button_message_text),
        user_name=mask_bsns(update.user_name) if update.user_name else None,
    )


async def _position(session: AsyncSession) -> int | None:
    found = await session.scalar(
        select(ChannelCursorRow.position).where(ChannelCursorRow.name == CURSOR)
    )
    return int(found) if found is not None else None


async def _advance(session: AsyncSession, update_id: int, now: datetime) -> None:
    row = await session.get(ChannelCursorRow, CURSOR)
    if row is None:
        session.add(ChannelCursorRow(name=CURSOR, position=update_id, updated_at=now))
    elif update_id > row.position:
        row.position, row.updated_at = update_id, now

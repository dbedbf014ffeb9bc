"""The tables. Change them only together with a migration in store/migrations/versions/."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class CaseRow(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    profile: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(40))
    requester: Mapped[str] = mapped_column(String(320), index=True)
    requester_name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2))
    kinds: Mapped[list[Any]] = mapped_column(JSON)
    # The classifier's answer: a score per label, how sure it was, and which model gave it.
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    confidence: Mapped[float | None] = mapped_column(Float)
    classified_by: Mapped[str | None] = mapped_column(String(80))
    # The clock (issue 4): due dates as computed at receipt, moved by pauses; the legal deadline
    # in force is extended_due once an extension notice went out (extension_sent_at).
    promise_due: Mapped[date | None] = mapped_column(Date, index=True)
    legal_due: Mapped[date | None] = mapped_column(Date)
    extended_due: Mapped[date | None] = mapped_column(Date)
    extension_sent_at: Mapped[datetime | None]
    paused_days: Mapped[int] = mapped_column(Integer, default=0)
    paused_since: Mapped[date | None] = mapped_column(Date)
    assignee: Mapped[str | None] = mapped_column(String(320), index=True)
    decision: Mapped[str | None] = mapped_column(String(40))
    closed_at: Mapped[datetime | None]
    # When the deadline sweep looks at this case again; NULL: at the next sweep.
    next_notice_on: Mapped[date | None] = mapped_column(Date, index=True)
    # Identity (issue 5): the policy that applied, where the proof stands, when it was asked for,
    # (the confirmation code of "on_doubt" is derived from the secret key, never stored).
    identity_policy: Mapped[str | None] = mapped_column(String(10))
    identity_state: Mapped[str] = mapped_column(String(20), default="not_needed", index=True)
    identity_requested_at: Mapped[datetime | None]
    # The e-mail address the person says they use with the organisation (asked in the chat).
    contact_email: Mapped[str | None] = mapped_column(String(320))
    state: Mapped[str] = mapped_column(String(20), index=True)
    subject: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CaseEventRow(Base):
    """Append-only (a database trigger refuses UPDATE and DELETE): who did what, when."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class MessageRow(Base):
    """Every incoming message, whatever became of it (route); text already BSN-masked."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ux_messages_message_id", "message_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[str | None] = mapped_column(String(998))
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[Any]] = mapped_column(JSON)
    sender: Mapped[str | None] = mapped_column(String(320))
    sender_name: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list[Any]] = mapped_column(JSON)
    defects: Mapped[list[Any]] = mapped_column(JSON)
    route: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    received_at: Mapped[datetime]
    stored_at: Mapped[datetime]


class OutboxRow(Base):
    """An outgoing message, delivered by the sender loop with retries."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    sender: Mapped[str] = mapped_column(String(320))
    sender_name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(2))
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[Any]] = mapped_column(JSON)
    auto_submitted: Mapped[str | None] = mapped_column(String(40))
    # Chat only: rows of inline buttons, [[{"text": ..., "data": ...} or {"text", "url"}]].
    buttons: Mapped[list[Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class ChatRow(Base):
    """A private Telegram chat and where its conversation stands (domain/chat.py)."""

    __tablename__ = "telegram_chats"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(2))
    # What the conversation collected before the case exists (text BSN-masked).
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class ChannelCursorRow(Base):
    """How far a channel has read (the Telegram update offset), stored with what it read."""

    __tablename__ = "channel_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class MailboxStateRow(Base):
    """Where each IMAP mailbox was read up to; \\Seen flags are not relied on."""

    __tablename__ = "mailbox_state"

    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    # UIDs and UIDVALIDITY are unsigned 32-bit: too big for a signed INTEGER.
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class ReferenceCounterRow(Base):
    """Last number handed out per prefix and year, e.g. AVG-2026 -> 42."""

    __tablename__ = "reference_counters"

    key: Mapped[str] = mapped_column(String(20), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class NoticeRow(Base):
    """A reminder, escalation or digest that was sent: its key makes each one happen once."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]


class DraftRow(Base):
    """A substantive message to the person, waiting for staff approval before it is sent."""

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(2))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), index=True)  # draft, approved, discarded
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None]
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    # The last staff member who changed the text: under four eyes they may not approve it either.
    edited_by: Mapped[str | None] = mapped_column(String(320))
    edited_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(Text)


class IdCopyRow(Base):
    """An ID copy that arrived: the encrypted file (named by `token`) exists only while status is
    "pending" (not checked yet) or "review" (for staff); afterwards only the outcome is kept."""

    __tablename__ = "id_copies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(Integer)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), index=True)  # pending, review, deleted
    # accepted, unchecked (no OCR here: staff look), unshielded, unreadable
    outcome: Mapped[str | None] = mapped_column(String(20))
    findings: Mapped[list[Any]] = mapped_column(JSON)  # kinds of fields that showed, no values
    received_at: Mapped[datetime]
    checked_at: Mapped[datetime | None]
    delete_by: Mapped[datetime] = mapped_column(index=True)
    deleted_at: Mapped[datetime | None]
    deleted_reason: Mapped[str | None] = mapped_column(String(40))


class ErasureLedgerRow(Base):
    """A completed erasure: a keyed hash of each identifier, never the identifier itself."""

    __tablename__ = "erasure_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # email, phone
    reference: Mapped[str] = mapped_column(String(32))
    erased_at: Mapped[datetime]


class PurgeGrantRow(Base):
    """Present only inside the retention purge's transaction: it may delete purged events."""

    __tablename__ = "purge_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class StaffRow(Base):
    """A console account. The password is kept only as an argon2 hash."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # staff, privacy_officer, admin
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class ConsoleSessionRow(Base):
    """A logged-in browser. The cookie holds a random token; only its SHA-256 is kept here, so a
    copy of the database lets no one in."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginFailureRow(Base):
    """A failed login, for the throttle: the account name as a keyed hash (typos and guesses
    are not kept readable), and the client address."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(index=True)


class AuditRow(Base):
    """Append-only: staff actions that belong to no case (logins, accounts, exports)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class TaskRow(Base):
    """One step of a case's checklist (from [tasks] in the settings), or one staff added."""

    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("case_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    key: Mapped[str] = mapped_column(String(80))  # e.g. "access/2": the same step is added once
    kind: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    assignee: Mapped[str | None] = mapped_column(String(320), index=True)
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime]


class LabelCorrectionRow(Base):
    """Staff changed the labels of a case: what the classifier said and what is right. Exported
    as training data by `dsr-bot corrections export`."""

    __tablename__ = "label_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[list[Any]] = mapped_column(JSON)
    after: Mapped[list[Any]] = mapped_column(JSON)
    model: Mapped[str | None] = mapped_column(String(80))
    by: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime]


class CollectedItemRow(Base):
    """Data staff collected for a case from one of the organisation's systems: a file or a list
    of name/value fields. The content (the file's bytes, or the fields as JSON) is sealed
    (store/sealed.py); it goes out in the access and portability packages (services/packages.py)
    and is deleted when the case is closed, or earlier when the person's data is erased."""

    __tablename__ = "collected_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    system: Mapped[str] = mapped_column(String(100))
    form: Mapped[str] = mapped_column(String(10))  # "file" or "fields"
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)  # bytes of a file, number of fields
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # Provided by the person (Art. 20): only these go into the portability package.
    provided: Mapped[bool] = mapped_column(default=True)
    added_by: Mapped[str] = mapped_column(String(320))
    added_at: Mapped[datetime]


class OutboxAttachmentRow(Base):
    """A file that goes with an outbox message (an access or portability package), sealed, so
    that a retried delivery still has it. Deleted once the message is sent or failed for good."""

    __tablename__ = "outbox_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]

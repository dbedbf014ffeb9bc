"""Queries the services use. Each takes an open session; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dsr_bot.errors import CaseNotFound
from dsr_bot.store.tables import (
    Base,
    CaseEventRow,
    CaseRow,
    MailboxStateRow,
    MessageRow,
    OutboxRow,
    ReferenceCounterRow,
)


def refused_value(exc: BaseException) -> bool:
    """The database refused a value (too long, bad text, a constraint), not the connection.

    SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation); asyncpg's
    adapter reports them as plain DBAPIError, so the class decides, not the Python type.
    """
    if isinstance(exc, DataError | IntegrityError):
        return True
    state = sqlstate(exc)
    return state is not None and state[:2] in ("22", "23")


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE code of a database error, where the driver gives one."""
    orig = exc.orig if isinstance(exc, DBAPIError) else None
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return state if isinstance(state, str) else None


async def allocate_ids(session: AsyncSession, table: type[Base], count: int) -> list[int]:
    """Primary keys for `count` new rows, so a batch is inserted with one executemany.

    (SQLite cannot return generated ids of a multi-row insert in order, so the ORM would insert
    row by row.) PostgreSQL: the table's sequence. SQLite: above the current maximum, which is
    safe because every transaction holds the write lock from its start (BEGIN IMMEDIATE).
    """
    if count <= 0:
        return []
    name = table.__tablename__
    if session.get_bind().dialect.name == "postgresql":
        rows = await session.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": name, "n": count},
        )
        return [int(r[0]) for r in rows]
    top = await session.scalar(text(f"SELECT max(id) FROM {name}"))  # noqa: S608 - our own table
    start = int(top or 0) + 1
    return list(range(start, start + count))


def outbox_row(
    *,
    case_id: int | None,
    kind: str,
    channel: str,
    source: str,
    recipient: str,
    sender: str,
    sender_name: str,
    subject: str,
    body: str,
    language: str,
    message_id: str,
    now: datetime,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    auto_submitted: str | None = None,
    buttons: list[list[dict[str, str]]] | None = None,
) -> dict[str, Any]:
    """A new outbox row, due at once, as a dict for `insert_rows` (its id is allocated later)."""
    return {
        "id": None,
        "case_id": case_id,
        "kind": kind,
        "channel": channel,
        "source": source,
        "recipient": recipient,
        "sender": sender,
        "sender_name": sender_name,
        "subject": subject,
        "body": body,
        "language": language,
        "message_id": message_id,
        "in_reply_to": in_reply_to,
        "references": references or [],
        "auto_submitted": auto_submitted,
        "buttons": buttons,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
        "created_at": now,
        "sent_at": None,
    }


async def insert_rows(
    session: AsyncSession, table: type[Base], rows: Sequence[dict[str, Any]]
) -> None:
    """Insert rows given as column values, all with the same keys, in a single executemany.

    Core on the session's connection: the ORM's bulk path costs more than the insert itself.
    """
    if rows:
        connection = await session.connection()
        await connection.execute(insert(table.__table__), list(rows))  # type: ignore[arg-type]


async def touch_cases(session: AsyncSession, case_ids: Collection[int], now: datetime) -> None:
    await session.execute(
        update(CaseRow)
        .where(CaseRow.id.in_(case_ids))
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def known_message_keys(
    session: AsyncSession, source: str, external_ids: Collection[str], message_ids: Collection[str]
) -> tuple[set[str], set[str]]:
    """Which of these external ids (for this source) and Message-IDs are stored already."""
    ext: set[str] = set()
    mids: set[str] = set()
    if external_ids:
        rows = await session.scalars(
            select(MessageRow.external_id).where(
                MessageRow.source == source, MessageRow.external_id.in_(external_ids)
            )
        )
        ext = set(rows)
    if message_ids:
        rows = await session.scalars(
            select(MessageRow.message_id).where(MessageRow.message_id.in_(message_ids))
        )
        mids = {m for m in rows if m}
    return ext, mids


async def cases_by_references(
    session: AsyncSession, references: Collection[str]
) -> dict[str, CaseRow]:
    if not references:
        return {}
    rows = await session.scalars(select(CaseRow).where(CaseRow.reference.in_(references)))
    return {row.reference: row for row in rows}


async def cases_by_message_ids(
    session: AsyncSession, message_ids: Collection[str]
) -> dict[str, CaseRow]:
    """Message-ID (ours or theirs) -> the case it belongs to."""
    if not message_ids:
        return {}
    ours = select(OutboxRow.message_id, OutboxRow.case_id).where(
        OutboxRow.message_id.in_(message_ids), OutboxRow.case_id.is_not(None)
    )
    theirs = select(MessageRow.message_id, MessageRow.case_id).where(
        MessageRow.message_id.in_(message_ids), MessageRow.case_id.is_not(None)
    )
    found = {mid: cid for mid, cid in (await session.execute(ours.union_all(theirs))).all()}
    if not found:
        return {}
    cases = await session.scalars(select(CaseRow).where(CaseRow.id.in_(set(found.values()))))
    by_id = {case.id: case for case in cases}
    return {mid: by_id[cid] for mid, cid in found.items() if cid in by_id}


async def reserve_reference_numbers(session: AsyncSession, key: str, count: int) -> int:
    """Reserve `count` consecutive numbers for a prefix-year; returns the first.

    One upsert; its row lock makes this safe across workers.
    """
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(ReferenceCounterRow).values(key=key, last=count)
    last = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=[ReferenceCounterRow.key],
            set_={"last": ReferenceCounterRow.last + statement.excluded.last},
        ).returning(ReferenceCounterRow.last)
    )
    assert last is not None
    return int(last) - count + 1


async def recent_outbox_counts(
    session: AsyncSession, *, recipients: Collection[str], kind: str, since: datetime
) -> dict[str, int]:
    if not recipients:
        return {}
    rows = await session.execute(
        select(OutboxRow.recipient, func.count(OutboxRow.id))
        .where(
            OutboxRow.recipient.in_(recipients),
            OutboxRow.kind == kind,
            OutboxRow.created_at >= since,
        )
        .group_by(OutboxRow.recipient)
    )
    return {recipient: int(count) for recipient, count in rows.all()}


async def case_by_reference(session: AsyncSession, reference: str) -> CaseRow | None:
    row: CaseRow | None = await session.scalar(
        select(CaseRow).where(CaseRow.reference == reference)
    )
    return row


async def mailbox_state(session: AsyncSession, source: str) -> MailboxStateRow | None:
    return await session.get(MailboxStateRow, source)


async def save_mailbox_state(
    session: AsyncSession, *, source: str, uidvalidity: int, last_uid: int, now: datetime
) -> None:
    row = await session.get(MailboxStateRow, source)
    if row is None:
        session.add(
            MailboxStateRow(
                source=source, uidvalidity=uidvalidity, last_uid=last_uid, updated_at=now
            )
        )
    elif row.uidvalidity != uidvalidity or last_uid > row.last_uid:
        row.uidvalidity, row.last_uid, row.updated_at = uidvalidity, last_uid, now


async def claim_due_outbox(
    session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int
) -> list[OutboxRow]:
    """Take due rows and push their next attempt past a lease, so no other worker sends them too.

    A worker that dies mid-send leaves the row due again once the lease runs out.
    """
    rows = list(
        await session.scalars(
            select(OutboxRow)
            .where(OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now)
            .order_by(OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if rows:
        await session.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_([r.id for r in rows]))
            .values(attempts=OutboxRow.attempts + 1, next_attempt_at=lease_until)
            .execution_options(synchronize_session=False)
        )
        for row in rows:  # the same change on the loaded objects, without a second UPDATE
            session.expunge(row)
            row.attempts += 1
            row.next_attempt_at = lease_until
    return rows


async def outbox_rows(session: AsyncSession, ids: Collection[int]) -> dict[int, OutboxRow]:
    rows = await session.scalars(select(OutboxRow).where(OutboxRow.id.in_(ids)))
    return {row.id: row for row in rows}


async def next_outbox_due(session: AsyncSession) -> datetime | None:
    due: datetime | None = await session.scalar(
        select(func.min(OutboxRow.next_attempt_at)).where(OutboxRow.status == "pending")
    )
    return due


@dataclass(frozen=True, slots=True)
class CaseDetail:
    case: CaseRow
    events: list[CaseEventRow]
    messages: list[MessageRow]
    outbox: list[OutboxRow]


async def list_cases(
    session: AsyncSession, *, state: str | None = None, limit: int = 100
) -> list[CaseRow]:
    query = select(CaseRow).order_by(CaseRow.id.desc()).limit(limit)
    if state:
        query = query.where(CaseRow.state == state)
    return list(await session.scalars(query))


async def case_detail(session: AsyncSession, reference: str) -> CaseDetail:
    case = await case_by_reference(session, reference)
    if case is None:
        raise CaseNotFound(reference)
    return await case_history(session, case)


async def case_history(session: AsyncSession, case: CaseRow) -> CaseDetail:
    """A case's event log, its messages and its outgoing mail, each in the order written."""
    events = await session.scalars(
        select(CaseEventRow).where(CaseEventRow.case_id == case.id).order_by(CaseEventRow.id)
    )
    messages = await session.scalars(
        select(MessageRow).where(MessageRow.case_id == case.id).order_by(MessageRow.id)
    )
    outbox = await session.scalars(
        select(OutboxRow).where(OutboxRow.case_id == case.id).order_by(OutboxRow.id)
    )
    return CaseDetail(case, list(events), list(messages), list(outbox))


async def list_messages(
    session: AsyncSession, *, routes: Collection[str] = (), limit: int = 100
) -> list[MessageRow]:
    query = select(MessageRow).order_by(MessageRow.id.desc()).limit(limit)
    if routes:
        query = query.where(or_(*(MessageRow.route == r for r in routes)))
    return list(await session.scalars(query))


async def case_counts_by_state(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(CaseRow.state, func.count()).group_by(CaseRow.state))
    return {str(state): int(count) for state, count in rows}


async def recently_verified(
    session: AsyncSession, requesters: Collection[str], *, since: datetime
) -> dict[str, str]:
    """Requester -> reference of their latest case whose identity was verified since `since`."""
    rows = await session.execute(
        select(CaseRow.requester, CaseRow.reference)
        .join(CaseEventRow, CaseEventRow.case_id == CaseRow.id)
        .where(
            CaseRow.requester.in_(list(requesters)),
            CaseRow.identity_state == "verified",
            CaseEventRow.kind == "identity_verified",
            CaseEventRow.at >= since,
        )
        .order_by(CaseEventRow.at)
    )
    return {str(requester): str(reference) for requester, reference in rows}

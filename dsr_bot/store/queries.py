"""Queries the services use. Each takes an open session; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from dsr_bot.errors import CaseNotFound
from dsr_bot.store.tables import (
    CaseEventRow,
    CaseRow,
    MailboxStateRow,
    MessageRow,
    OutboxRow,
    ReferenceCounterRow,
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


async def case_by_reference(session: AsyncSession, reference: str) -> CaseRow | None:
    row: CaseRow | None = await session.scalar(
        select(CaseRow).where(CaseRow.reference == reference)
    )
    return row


async def case_by_message_ids(session: AsyncSession, message_ids: Sequence[str]) -> CaseRow | None:
    """The case that one of these Message-IDs (ours or theirs) belongs to; the newest id wins."""
    if not message_ids:
        return None
    ours = select(OutboxRow.message_id, OutboxRow.case_id).where(
        OutboxRow.message_id.in_(message_ids), OutboxRow.case_id.is_not(None)
    )
    theirs = select(MessageRow.message_id, MessageRow.case_id).where(
        MessageRow.message_id.in_(message_ids), MessageRow.case_id.is_not(None)
    )
    found = {mid: cid for mid, cid in (await session.execute(ours.union_all(theirs))).all()}
    for mid in reversed(message_ids):
        if mid in found:
            return await session.get(CaseRow, found[mid])
    return None


async def next_reference_number(session: AsyncSession, key: str) -> int:
    """Hand out the next number for a prefix-year; the row lock makes it safe across workers."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(ReferenceCounterRow).values(key=key, last=0).on_conflict_do_nothing()
    )
    number = await session.scalar(
        update(ReferenceCounterRow)
        .where(ReferenceCounterRow.key == key)
        .values(last=ReferenceCounterRow.last + 1)
        .returning(ReferenceCounterRow.last)
    )
    assert number is not None
    return int(number)


async def count_recent_outbox(
    session: AsyncSession, *, recipient: str, kind: str, since: datetime
) -> int:
    count = await session.scalar(
        select(func.count(OutboxRow.id)).where(
            OutboxRow.recipient == recipient, OutboxRow.kind == kind, OutboxRow.created_at >= since
        )
    )
    return count or 0


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
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = lease_until
    return rows


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

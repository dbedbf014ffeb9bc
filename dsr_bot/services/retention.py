"""The retention purge: closed cases go, with everything about them, a set time after closing.

Messages that never became a case (ignored or quarantined) go the same time after they arrived.
ID material follows its own, stricter rule (issue 5). The staff audit log is kept as long as
closed cases; failed logins for a day. The event log is append-only; the purge may
delete the events of purged cases only while its own transaction holds a purge grant.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.store.tables import (
    AuditRow,
    Base,
    CaseEventRow,
    CaseRow,
    ChatRow,
    CollectedItemRow,
    DraftRow,
    IdCopyRow,
    LabelCorrectionRow,
    LoginFailureRow,
    MessageRow,
    NoticeRow,
    OutboxAttachmentRow,
    OutboxRow,
    PurgeGrantRow,
    TaskRow,
)

log = logging.getLogger(__name__)

_BY_CASE: tuple[type[Base], ...] = (
    ChatRow,
    NoticeRow,
    DraftRow,
    OutboxAttachmentRow,  # before the outbox rows they belong to
    OutboxRow,
    MessageRow,
    IdCopyRow,
    TaskRow,
    LabelCorrectionRow,
    CollectedItemRow,
    CaseEventRow,
)


@dataclass
class PurgeReport:
    cutoff: datetime
    references: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows (to be) deleted
    dry_run: bool = False


async def purge(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    keep_days: int,
    chat_days: int = 14,
    dry_run: bool = False,
) -> PurgeReport:
    """Closed cases older than `keep_days`, with everything about them; chat conversations
    that never became a case, idle for `chat_days`."""
    cutoff = now - timedelta(days=keep_days)
    idle_chat = (ChatRow.case_id.is_(None), ChatRow.updated_at < now - timedelta(days=chat_days))
    report = PurgeReport(cutoff=cutoff, dry_run=dry_run)
    async with sessions.begin() as session:
        cases = [
            (int(case_id), str(reference))
            for case_id, reference in await session.execute(
                select(CaseRow.id, CaseRow.reference).where(
                    CaseRow.state == "closed", CaseRow.closed_at < cutoff
                )
            )
        ]
        ids = [case_id for case_id, _ in cases]
        report.references = [reference for _, reference in cases]
        for table in _BY_CASE:
            column = table.__table__.c.case_id
            report.rows[table.__tablename__] = await _count(session, table, column.in_(ids))
        loose = (MessageRow.case_id.is_(None), MessageRow.stored_at < cutoff)
        report.rows["messages"] += await _count(session, MessageRow, *loose)
        report.rows["telegram_chats"] += await _count(session, ChatRow, *idle_chat)
        report.rows["cases"] = len(ids)
        # Staff actions outside cases (logins, accounts, exports) are kept as long as cases.
        report.rows["audit_log"] = await _count(session, AuditRow, AuditRow.at < cutoff)
        if dry_run:
            await session.rollback()
            return report
        session.add(PurgeGrantRow(id=1))
        await session.flush()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for table in _BY_CASE:
                column = table.__table__.c.case_id
                await session.execute(delete(table).where(column.in_(chunk)))
            await session.execute(delete(CaseRow).where(CaseRow.id.in_(chunk)))
        await session.execute(delete(MessageRow).where(*loose))
        await session.execute(delete(ChatRow).where(*idle_chat))
        await session.execute(delete(AuditRow).where(AuditRow.at < cutoff))
        # The login throttle looks back minutes, not days.
        await session.execute(
            delete(LoginFailureRow).where(LoginFailureRow.at < now - timedelta(days=1))
        )
        await session.execute(delete(PurgeGrantRow))
    if any(report.rows.values()):
        log.info(
            "retention purge: %d case(s) and %d message(s) older than %s removed",
            len(ids),
            report.rows["messages"],
            cutoff.date().isoformat(),
        )
    return report


async def _count(session: AsyncSession, table: type[Base], *where: Any) -> int:
    found = await session.scalar(select(func.count()).select_from(table).where(*where))
    return int(found or 0)

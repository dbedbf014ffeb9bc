"""Storage on SQLite and PostgreSQL: migrations, references, the append-only audit log."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.store import migrate, queries
from dsr_bot.store.engine import create_engine
from dsr_bot.store.tables import Base, CaseEventRow, CaseRow, MailboxStateRow

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _case(reference: str) -> CaseRow:
    return CaseRow(
        reference=reference,
        profile="default",
        channel="email",
        source="info",
        requester="jan@example.nl",
        requester_name=None,
        language="nl",
        kinds=["access"],
        state="open",
        subject="Inzage",
        received_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )


async def test_migrations_create_exactly_the_tables_the_code_uses(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        before, after = await migrate.upgrade(engine)
        assert (before, after) == (None, migrate.head_revision())
        assert await migrate.upgrade(engine) == (after, after)  # a second run changes nothing

        def diff(connection: Connection) -> list[object]:
            return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_references_count_up_per_year_without_gaps_under_concurrency(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def take(key: str, count: int) -> list[int]:
        async with sessions.begin() as session:
            first = await queries.reserve_reference_numbers(session, key, count)
        return list(range(first, first + count))

    blocks = await asyncio.gather(*(take("AVG-2026", 1 + n % 4) for n in range(20)))
    numbers = sorted(n for block in blocks for n in block)
    assert numbers == list(range(1, 51))  # 20 blocks of 1 to 4: every number once, no gaps
    assert await take("AVG-2027", 1) == [1]


async def test_case_events_cannot_be_changed_or_deleted(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        case = _case("AVG-2026-0001")
        session.add(case)
        await session.flush()
        session.add(CaseEventRow(case_id=case.id, at=NOW, actor="system", kind="opened", detail={}))
    for statement in (
        update(CaseEventRow).values(actor="someone else"),
        delete(CaseEventRow),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with sessions.begin() as session:
                await session.execute(statement)
    async with sessions() as session:
        events = list(await session.scalars(select(CaseEventRow)))
    assert [(e.actor, e.kind) for e in events] == [("system", "opened")]


async def test_times_come_back_aware_in_utc(sessions: async_sessionmaker[AsyncSession]) -> None:
    amsterdam_time = datetime(2026, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=1)))
    async with sessions.begin() as session:
        case = _case("AVG-2026-0002")
        case.received_at = amsterdam_time
        session.add(case)
    async with sessions() as session:
        stored = await queries.case_by_reference(session, "AVG-2026-0002")
    assert stored is not None
    assert stored.received_at == amsterdam_time
    assert stored.received_at.tzinfo is not None


async def test_mailbox_cursor_holds_32_bit_uids_and_never_moves_back(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    big = 4_294_967_295  # UIDVALIDITY and UID are unsigned 32-bit
    async with sessions.begin() as session:
        await queries.save_mailbox_state(
            session, source="info", uidvalidity=big, last_uid=big - 1, now=NOW
        )
    async with sessions.begin() as session:
        await queries.save_mailbox_state(
            session, source="info", uidvalidity=big, last_uid=5, now=NOW
        )
    async with sessions() as session:
        row = await session.get(MailboxStateRow, "info")
    assert row is not None
    assert (row.uidvalidity, row.last_uid) == (big, big - 1)


async def test_unreachable_database_is_a_clear_error() -> None:
    from dsr_bot.errors import StoreError

    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(StoreError, match="cannot migrate the database"):
            await migrate.upgrade(engine)
    finally:
        await engine.dispose()


async def test_database_errors_never_quote_the_values_involved(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from sqlalchemy.exc import IntegrityError

    async with sessions.begin() as session:
        session.add(_case("AVG-2026-0003"))
    duplicate = _case("AVG-2026-0003")
    duplicate.subject = "geheim verhaal"
    with pytest.raises(IntegrityError) as caught:
        async with sessions.begin() as session:
            session.add(duplicate)
    assert "geheim" not in str(caught.value)
    assert "hidden due to hide_parameters" in str(caught.value)


async def test_a_database_from_a_newer_release_is_a_clear_error_not_a_traceback(
    database_url: str,
) -> None:
    from sqlalchemy import text

    from dsr_bot.errors import StoreError

    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        async with engine.begin() as conn:  # as a later release's migration would leave it
            await conn.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
        with pytest.raises(StoreError, match="upgraded by a newer dsr-bot"):
            await migrate.upgrade(engine)
    finally:
        await engine.dispose()

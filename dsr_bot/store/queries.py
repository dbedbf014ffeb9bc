"""Queries the services use. Each takes an open session; the caller owns the transaction."""

from __future__ import annotations

import functools
import operator
import weakref
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine

from dsr_bot.errors import CaseNotFound
from dsr_bot.store.tables import (
    Base,
    CaseEventRow,
    CaseRow,
    CollectedItemRow,
    MailboxStateRow,
    MessageRow,
    OutboxAttachmentRow,
    OutboxRow,
    ReferenceCounterRow,
    UtcDateTime,
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
    # Plain SQL on the session's connection: the session's own execute costs more than the query.
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        rows = await connection.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)",
            (name, count),
        )
        return [int(r[0]) for r in rows]
    result = await connection.exec_driver_sql(f"SELECT max(id) FROM {name}")  # noqa: S608 - our own table
    start = int(result.scalar() or 0) + 1
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


async def insert_with_ids(
    session: AsyncSession, table: type[Base], rows: Sequence[dict[str, Any]]
) -> None:
    """Give the rows their ids first (later rows refer to them; callers read row["id"]),
    then insert them in one statement."""
    for row, pk in zip(rows, await allocate_ids(session, table, len(rows)), strict=True):
        row["id"] = pk
    await insert_rows(session, table, rows)


async def insert_rows(
    session: AsyncSession, table: type[Base], rows: Sequence[dict[str, Any]]
) -> None:
    """Insert rows given as column values, all with the same keys, in one statement.

    The statement is SQLAlchemy's own INSERT, compiled once per table and set of keys, and the
    values go through the same bind processors; only its per-parameter bookkeeping for every
    row is skipped (a third of the ingest's time in it). PostgreSQL gets one array per column
    and a single INSERT ... SELECT FROM unnest(...) instead of a statement per row.
    """
    if not rows:
        return
    connection = await session.connection()
    bulk = _bulk_insert(connection.dialect, table.__table__, tuple(rows[0]))  # type: ignore[arg-type]
    parameters = bulk.parameters(rows) if bulk is not None else None
    if parameters is None:
        await connection.execute(insert(table.__table__), list(rows))  # type: ignore[arg-type]
    else:
        await connection.exec_driver_sql(bulk.sql, parameters)  # type: ignore[union-attr]


@dataclass(frozen=True, slots=True)
class _BulkInsert:
    """An INSERT for one table and one set of row keys, ready for the driver."""

    sql: str
    values: Callable[[dict[str, Any]], tuple[Any, ...]]  # a row's values, in the SQL's order
    # (position, bind processor, which values get the same answer: see _processed)
    processors: tuple[tuple[int, Callable[[Any], Any], Callable[[Any], Hashable]], ...]
    arrays: bool  # one parameter per column, holding every row's value (unnest)

    def parameters(self, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]] | None:
        """The driver's parameters; None when a row lacks a key or a value cannot be bound
        (a naive datetime, say): SQLAlchemy's own path then raises its error, as it always did."""
        try:
            columns: list[Sequence[Any]] = list(zip(*map(self.values, rows), strict=True))
            for position, process, key in self.processors:
                columns[position] = _processed(process, columns[position], key)
        except Exception:
            return None
        if self.arrays:
            return [tuple(list(column) for column in columns)]
        return list(zip(*columns, strict=True))


def _processed(
    process: Callable[[Any], Any], column: Sequence[Any], key: Callable[[Any], Hashable]
) -> list[Any]:
    """A column's values through its bind processor, once per distinct value: in a batch most
    are the same None, the same `now`, an empty list or the same second of receipt. A
    processor's answer depends on the value alone; `key` says which values are the same."""
    distinct = {key(value): value for value in column}
    if len(distinct) == len(column):
        return list(map(process, column))
    done = {k: process(value) for k, value in distinct.items()}
    return [done[key(value)] for value in column]


def _same_object(value: Any) -> Hashable:
    return id(value)  # the values are alive in their rows meanwhile, so no id is reused


def _same_instant(value: Any) -> Hashable:
    # UtcDateTime stores the instant in UTC, so equal instants (equal aware datetimes) store
    # the same. Not across `fold`: within one zone, its repeated hour compares equal to the
    # first one.
    return (value, value.fold) if type(value) is datetime else id(value)


def _same_day(value: Any) -> Hashable:
    return value if type(value) is date else id(value)  # a datetime would keep its clock time


def _same_json(value: Any) -> Hashable:
    return (
        f"empty {type(value).__name__}" if type(value) in (list, dict) and not value else id(value)
    )


def _value_key(column_type: TypeEngine[Any]) -> Callable[[Any], Hashable]:
    if isinstance(column_type, UtcDateTime):
        return _same_instant
    if isinstance(column_type, Date) and not isinstance(column_type, DateTime):
        return _same_day
    if isinstance(column_type, JSON):
        return _same_json
    return _same_object


# Per dialect (an engine's), per (table, keys): None where SQLAlchemy's own path is needed.
_BULK_INSERTS: weakref.WeakKeyDictionary[
    Dialect, dict[tuple[Table, tuple[str, ...]], _BulkInsert | None]
] = weakref.WeakKeyDictionary()
# Array element types for unnest: plain types only, so a cast never changes a value (a cast to
# varchar(n) would cut; text assigned to a varchar(n) column is refused instead, as before).
_ARRAY_TYPES: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (String, "text"),
    (BigInteger, "bigint"),
    (SmallInteger, "smallint"),
    (Integer, "integer"),
    (Float, "double precision"),
    (Boolean, "boolean"),
    (Date, "date"),
    (JSON, "json"),
)


def _bulk_insert(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> _BulkInsert | None:
    plans = _BULK_INSERTS.setdefault(dialect, {})
    if (table, keys) not in plans:
        plans[table, keys] = _plan_bulk_insert(dialect, table, keys)
    return plans[table, keys]


def _plan_bulk_insert(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> _BulkInsert | None:
    if not keys or dialect.name not in ("sqlite", "postgresql"):
        return None
    compiled = insert(table).compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
    names = compiled.positiontup or []
    binds = [compiled.binds[name] for name in names]
    # Defaults computed in Python, or a key that is no column: SQLAlchemy's path handles those.
    if compiled.insert_prefetch or sorted(b.key for b in binds) != sorted(keys):
        return None
    processors: list[tuple[int, Callable[[Any], Any], Callable[[Any], Hashable]]] = []
    for position, (name, bind) in enumerate(zip(names, binds, strict=True)):
        process = compiled._bind_processors.get(name)
        if process is not None:
            if not callable(process):  # a tuple-valued bind: not a column of an INSERT
                return None
            processors.append((position, process, _value_key(table.c[bind.key].type)))
    order = [b.key for b in binds]
    getter = operator.itemgetter(*order)
    values = getter if len(order) > 1 else lambda row: (getter(row),)
    if dialect.name == "sqlite":
        return _BulkInsert(compiled.string, values, tuple(processors), arrays=False)
    casts: list[str] = []
    for bind in binds:
        kind = _array_type(table.c[bind.key].type)
        if kind is None:
            return None
        casts.append(f"${len(casts) + 1}::{kind}[]")
    quote = dialect.identifier_preparer
    columns = ", ".join(quote.format_column(table.c[key]) for key in order)
    aliases = ", ".join(f"c{i}" for i in range(len(order)))
    # WITH ORDINALITY: the rows, and so their serial ids, keep the order they were given in.
    sql = (
        f"INSERT INTO {quote.format_table(table)} ({columns}) SELECT {aliases} "  # noqa: S608 - our own table
        f"FROM unnest({', '.join(casts)}) WITH ORDINALITY AS u({aliases}, n) ORDER BY n"
    )
    return _BulkInsert(sql, values, tuple(processors), arrays=True)


def _array_type(column_type: TypeEngine[Any]) -> str | None:
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    if isinstance(column_type, DateTime):
        return "timestamptz" if column_type.timezone else "timestamp"
    if isinstance(column_type, JSONB):
        return "jsonb"
    if isinstance(column_type, Enum) or (
        isinstance(column_type, Float) and column_type.precision is not None
    ):
        return None
    return next((name for kind, name in _ARRAY_TYPES if isinstance(column_type, kind)), None)


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
    lookups: list[Select[Any, Any]] = []
    if external_ids:
        lookups.append(
            _stored(session, 0, MessageRow.external_id, external_ids, MessageRow.source == source)
        )
    if message_ids:
        lookups.append(_stored(session, 1, MessageRow.message_id, message_ids))
    if not lookups:
        return set(), set()
    # One statement for both: a round trip per batch less.
    rows = (await session.execute(union_all(*lookups))).all()
    ext = {value for which, value in rows if which == 0}
    mids = {value for which, value in rows if which == 1 and value}
    return ext, mids


def _stored(
    session: AsyncSession,
    tag: int,
    column: InstrumentedAttribute[Any],
    values: Collection[str],
    *where: ColumnElement[bool],
) -> Select[Any, Any]:
    """(tag, value) for each stored value of `column` among `values`, in rows meeting `where`.

    PostgreSQL gets the values as one array, each looked up through the column's index (a
    LATERAL probe). An IN list there is a prepared statement whose generic plan (PostgreSQL's
    choice from its sixth run on, and on a table without statistics yet, as in a fresh
    database) compared every row with every value: 5 ms per batch of 100 against 1,000
    messages, 30 ms against 10,000; the probes take about 0.5 and 1 ms.
    """
    if session.get_bind().dialect.name != "postgresql":
        return select(literal_column(str(tag)), column).where(*where, column.in_(values))
    keys = _keys(values)
    found = select(column.label("value")).where(*where, column == keys.c.key).lateral("found")
    return select(literal_column(str(tag)), found.c.value).select_from(keys).join(found, true())


def _keys(values: Collection[str]) -> TableValuedAlias:
    """PostgreSQL: the distinct values as rows of k(key), from one text[] parameter (not
    varchar(n)[], whose cast would cut a longer value to size)."""
    array = bindparam(None, list(dict.fromkeys(values)), type_=ARRAY(Text()))
    return func.unnest(array).table_valued("key").render_derived(name="k")


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
    statement = _reserve_statement(session.get_bind().dialect.name)
    last = await session.scalar(statement, {"key": key, "count": count})
    assert last is not None  # noqa: S101 - type narrowing only
    return int(last) - count + 1


@functools.cache
def _reserve_statement(dialect: str) -> ReturningInsert[int]:
    """Built once: building it took longer than running it."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(ReferenceCounterRow).values(key=bindparam("key"), last=bindparam("count"))
    return statement.on_conflict_do_update(
        index_elements=[ReferenceCounterRow.key],
        set_={"last": ReferenceCounterRow.last + statement.excluded.last},
    ).returning(ReferenceCounterRow.last)


async def recent_outbox_counts(
    session: AsyncSession, *, recipients: Collection[str], kind: str, since: datetime
) -> dict[str, int]:
    if not recipients:
        return {}
    recent = (OutboxRow.kind == kind, OutboxRow.created_at >= since)
    if session.get_bind().dialect.name == "postgresql":
        # One index probe per recipient, as in known_message_keys (_stored).
        keys = _keys(recipients)
        found = (
            select(OutboxRow.recipient, OutboxRow.id)
            .where(OutboxRow.recipient == keys.c.key, *recent)
            .lateral("found")
        )
        query = (
            select(found.c.recipient, func.count(found.c.id))
            .select_from(keys)
            .join(found, true())
            .group_by(found.c.recipient)
        )
    else:
        query = (
            select(OutboxRow.recipient, func.count(OutboxRow.id))
            .where(OutboxRow.recipient.in_(recipients), *recent)
            .group_by(OutboxRow.recipient)
        )
    rows = await session.execute(query)
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
    """One upsert: the cursor only moves forward (unless UIDVALIDITY changed), also when two
    workers save it at once (one waits for the other's row lock, then compares)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    new = insert(MailboxStateRow).values(
        source=source, uidvalidity=uidvalidity, last_uid=last_uid, updated_at=now
    )
    old = MailboxStateRow.__table__.c
    moves = (old.uidvalidity != new.excluded.uidvalidity) | (old.last_uid < new.excluded.last_uid)
    await session.execute(
        new.on_conflict_do_update(
            index_elements=[MailboxStateRow.source],
            set_={
                "uidvalidity": new.excluded.uidvalidity,
                "last_uid": new.excluded.last_uid,
                "updated_at": new.excluded.updated_at,
            },
            where=moves,
        )
    )


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


async def mark_outbox_sent(session: AsyncSession, ids: Collection[int], now: datetime) -> None:
    await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id.in_(ids))
        .values(status="sent", sent_at=now, last_error=None)
        .execution_options(synchronize_session=False)
    )


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


# --- collected data and outgoing attachments (services/packages.py) ----------------------------


async def collected_items(session: AsyncSession, case_id: int) -> list[CollectedItemRow]:
    """What staff collected for a case, by system, in the order it was added."""
    rows = await session.scalars(
        select(CollectedItemRow)
        .where(CollectedItemRow.case_id == case_id)
        .order_by(CollectedItemRow.system, CollectedItemRow.id)
    )
    return list(rows)


async def delete_collected_data(session: AsyncSession, case_ids: Collection[int]) -> int:
    """Delete the collected data of these cases; returns how many items went. A package made
    of it that still waits in the outbox goes out as approved (to the person themself), and
    the sender deletes it then."""
    if not case_ids:
        return 0
    result = await session.execute(
        delete(CollectedItemRow)
        .where(CollectedItemRow.case_id.in_(list(case_ids)))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def outbox_attachments(
    session: AsyncSession, outbox_ids: Collection[int]
) -> dict[int, list[OutboxAttachmentRow]]:
    """The attachments of these outbox rows (still sealed), in one query."""
    found: dict[int, list[OutboxAttachmentRow]] = {}
    if not outbox_ids:
        return found
    rows = await session.scalars(
        select(OutboxAttachmentRow)
        .where(OutboxAttachmentRow.outbox_id.in_(list(outbox_ids)))
        .order_by(OutboxAttachmentRow.id)
    )
    for row in rows:
        found.setdefault(row.outbox_id, []).append(row)
    return found


async def delete_outbox_attachments(session: AsyncSession, outbox_ids: Collection[int]) -> None:
    """Once a message was sent, or failed for good, its attachments are not kept."""
    if outbox_ids:
        await session.execute(
            delete(OutboxAttachmentRow)
            .where(OutboxAttachmentRow.outbox_id.in_(list(outbox_ids)))
            .execution_options(synchronize_session=False)
        )

"""The databases a run is measured on: a SQLite file, or a throw-away PostgreSQL database."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

# The machine's PostgreSQL, trust auth; through SQLAlchemy's asyncpg driver (typed, unlike
# asyncpg itself).
SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"


async def _pg_execute(sql: str) -> None:
    # AUTOCOMMIT: CREATE/DROP DATABASE cannot run inside a transaction.
    engine = create_async_engine(
        f"{SERVER}/postgres", isolation_level="AUTOCOMMIT", connect_args={"timeout": 5}
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    try:
        await _pg_execute("SELECT 1")
    except (OSError, TimeoutError, SQLAlchemyError) as exc:
        reason = str(exc).splitlines()[0][:160]
        return f"PostgreSQL at 127.0.0.1:5432 not reachable ({type(exc).__name__}: {reason})"
    return None


@asynccontextmanager
async def database(kind: str, workdir: Path) -> AsyncIterator[str]:
    """A fresh, empty database URL: every ingest run starts from nothing, cursor included."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir}/dsr-bot.db"
        return
    name = f"dsr_bench_{uuid.uuid4().hex[:12]}"
    await _pg_execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{SERVER}/{name}"
    finally:
        await _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def each_database(
    db: str, phase: str, notes: list[str]
) -> AsyncIterator[tuple[str, str, Path]]:
    """(kind, url, workdir) for each database of `db` ("sqlite", "postgres" or "both"), fresh
    and in a temporary directory; an unreachable PostgreSQL is noted and skipped."""
    kinds = ["sqlite", "postgres"] if db == "both" else [db]
    if "postgres" in kinds and (problem := await postgres_problem()):
        notes.append(f"{phase}: PostgreSQL row skipped: {problem}")
        kinds.remove("postgres")
    with tempfile.TemporaryDirectory(prefix=f"dsrb-{phase}-") as tmp:
        for kind in kinds:
            workdir = Path(tmp) / kind
            workdir.mkdir()
            async with database(kind, workdir) as url:
                yield kind, url, workdir

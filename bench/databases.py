"""The databases a run is measured on: a SQLite file, or a throw-away PostgreSQL database."""

from __future__ import annotations

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

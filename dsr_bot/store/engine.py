"""Creating the database engine, with the settings SQLite needs to be a safe embedded store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dsr_bot.errors import ConfigError


def create_engine(url: str) -> AsyncEngine:
    """An engine whose errors never quote statement parameters: those hold message text."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"database.url: cannot create {Path(database).parent}: {exc}"
                ) from None
        engine = create_async_engine(parsed, connect_args={"timeout": 30}, hide_parameters=True)
        _sqlite_pragmas(engine)
        return engine
    return create_async_engine(
        parsed, pool_pre_ping=True, pool_size=5, max_overflow=5, hide_parameters=True
    )


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; take it over (SQLAlchemy's recipe).
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so two writers never deadlock on an upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

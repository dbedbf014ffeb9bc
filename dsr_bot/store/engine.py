"""Creating the database engine, with the settings SQLite needs to be a safe embedded store."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dsr_bot.errors import ConfigError

log = logging.getLogger(__name__)

# The database is unavailable: SQLAlchemy's errors, and the OSError asyncpg raises as it is when
# it cannot connect (the server restarting: connection refused). Loops that retry catch both.
UNAVAILABLE: tuple[type[Exception], ...] = (SQLAlchemyError, OSError)

_SQLITE_FULL = 13  # SQLITE_FULL: the disk (or the database's size limit) is full
_PG_DISK_FULL = "53100"  # PostgreSQL's disk_full


def create_engine(url: str) -> AsyncEngine:
    """An engine whose errors never quote statement parameters: those hold message text."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            _owner_only(Path(database))
        engine = create_async_engine(parsed, connect_args={"timeout": 30}, hide_parameters=True)
        _sqlite_pragmas(engine)
        return engine
    return create_async_engine(
        parsed, pool_pre_ping=True, pool_size=5, max_overflow=5, hide_parameters=True
    )


def _owner_only(path: Path) -> None:
    """Create the database file for its owner alone (0600; a new folder 0700) before SQLite
    does (0644 under the usual umask): it holds personal data. SQLite gives its -wal and -shm
    files the database file's mode. An existing file keeps its mode, with a warning when
    others may read it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(FileExistsError):  # an existing database is opened as it is
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise ConfigError(f"database.url: cannot create {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s can be read by other users: chmod 600 it", path)


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


def describe_failure(exc: BaseException) -> str:
    """A database failure in a few words, safe to log: the error's class, and the cause when it
    is one an operator must act on (a full disk). Never the driver's message, which may quote
    the statement's parameters (message text)."""
    name = type(exc).__name__
    orig: BaseException | None = exc.orig if isinstance(exc, DBAPIError) else exc
    # aiosqlite and asyncpg errors come wrapped in SQLAlchemy's adapter; the cause is inside.
    for candidate in (orig, getattr(orig, "__cause__", None)):
        if getattr(candidate, "sqlite_errorcode", None) == _SQLITE_FULL:
            return f"{name}: the disk is full (database or disk is full)"
        if getattr(candidate, "sqlstate", None) == _PG_DISK_FULL:
            return f"{name}: the database server's disk is full"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{name}: {exc.strerror}"
    return name

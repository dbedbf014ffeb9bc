"""Applying Alembic migrations on a connection of our own async engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from dsr_bot.errors import StoreError
from dsr_bot.store.locks import LOCK_CLASS, lock_key

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """Bring the schema to the newest revision; returns (before, after)."""

    def _run(connection: Connection) -> tuple[str | None, str | None]:
        before = MigrationContext.configure(connection).get_current_revision()
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
        return before, MigrationContext.configure(connection).get_current_revision()

    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Workers starting together: one migrates, the others wait and find it done.
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:cls, :key)"),
                    {"cls": LOCK_CLASS, "key": lock_key("migrate")},
                )
            return await conn.run_sync(_run)
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"cannot migrate the database: {_short(exc)}") from None
    except CommandError as exc:
        # Typically a database upgraded by a newer release: this code does not know its revision.
        raise StoreError(
            f"cannot migrate the database: {_short(exc)} (was it upgraded by a newer dsr-bot? "
            "restore the backup taken before that upgrade, or run the newer release)"
        ) from None


async def current_revision(engine: AsyncEngine) -> str | None:
    def _run(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(_run)


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

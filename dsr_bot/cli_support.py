"""What the commands share: one database session per command, with clear errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.config import Settings
from dsr_bot.errors import StoreError
from dsr_bot.store import migrate
from dsr_bot.store.engine import create_engine

T = TypeVar("T")


def in_transaction(
    settings: Settings, fn: Callable[[AsyncSession], Awaitable[T]], *, migrate_first: bool = False
) -> T:
    """Run `fn` in one transaction, committed when it returns. The database must be migrated
    (`dsr-bot db upgrade`, or `dsr-bot run`) unless `migrate_first` migrates it here."""

    async def go() -> T:
        engine = create_engine(settings.database.url.get_secret_value())
        try:
            if migrate_first:
                await migrate.upgrade(engine)
            elif await migrate.current_revision(engine) != migrate.head_revision():
                raise StoreError("the database is not migrated yet: run `dsr-bot db upgrade`")
            async with async_sessionmaker(engine, expire_on_commit=False).begin() as session:
                return await fn(session)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot use the database ({type(exc).__name__})") from None
        finally:
            await engine.dispose()

    return asyncio.run(go())

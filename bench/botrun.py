"""Starting and stopping the whole bot, as `dsr-bot run` does, inside the bench's event loop."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from dsr_bot.app import Bot, build_bot
from dsr_bot.channels.imap import ImapWatcher
from dsr_bot.services.pipeline import ACK
from dsr_bot.store.tables import CaseRow, OutboxRow
from tests.conftest import make_settings
from tests.servers.dovecot import DovecotServer


@dataclass
class Started:
    bot: Bot
    watcher: ImapWatcher
    outbox_new: Path  # the Maildir folder acknowledgements land in
    built_at: float  # perf_counter after build_bot (migrations done)
    serving_at: float  # perf_counter when serve() was started


@asynccontextmanager
async def running(
    server: DovecotServer, database_url: str, workdir: Path
) -> AsyncIterator[Started]:
    # MaildirTransport creates only the last path component (mailbox.Maildir uses os.mkdir);
    # with SQLite the parent exists as a side effect of the database file, with PostgreSQL not.
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    settings = make_settings(
        database_url,
        workdir,
        mailboxes=[{"name": "info", "imap_url": server.imap_url()}],
    )
    async with build_bot(settings) as bot:
        built_at = time.perf_counter()
        serving = asyncio.create_task(bot.serve(), name="bench-bot")
        try:
            yield Started(
                bot=bot,
                watcher=bot.watchers[0],
                outbox_new=settings.mail.outbox_maildir / "new",
                built_at=built_at,
                serving_at=time.perf_counter(),
            )
        finally:
            bot.stop.set()
            await asyncio.wait_for(serving, timeout=60)


async def connected_at(watcher: ImapWatcher) -> float:
    """perf_counter when the watcher has logged in and selected the folder.

    Polled, not waited for in a thread: a thread blocked in Event.wait() would hold up
    asyncio.run()'s exit when the bench is interrupted.
    """
    # A threading.Event, set by the watcher's thread: asyncio.Event cannot stand in.
    while not watcher.connected.is_set():  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    return time.perf_counter()


async def stored_counts(bot: Bot) -> tuple[int, int]:
    """(cases, cases with an acknowledgement queued or sent)."""
    async with bot.sessions() as session:
        cases = await session.scalar(select(func.count(CaseRow.id)))
        acked = await session.scalar(
            select(func.count(func.distinct(OutboxRow.case_id))).where(OutboxRow.kind == ACK)
        )
    return cases or 0, acked or 0


def maildir_count(new: Path) -> int:
    """Polled every few ms on a folder of 1,000+ files: os.listdir, not the slower Path.iterdir."""
    try:
        return len(os.listdir(new))
    except FileNotFoundError:
        return 0

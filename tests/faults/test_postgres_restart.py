"""PostgreSQL is restarted while the bot stores mail (a private cluster, never the machine's
server): nothing is lost, no case is opened twice, and the bot carries on by itself."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dsr_bot.app import Bot
from dsr_bot.domain.cases import RequestKind
from dsr_bot.store.tables import CaseRow, MessageRow, OutboxRow
from tests.conftest import FixedClassifier, imap_settings, outbox_mail, running_bot
from tests.faults import SOAK, SOAK_TIMEOUT, at_least, report, request_raws, rows
from tests.servers.dovecot import DovecotServer
from tests.servers.postgres import PostgresServer

pytestmark = pytest.mark.dovecot  # PostgreSQL: a private cluster, not the server at 5432

RESTARTS = 3 if SOAK else 1
DOWN_SECONDS = 20.0 if SOAK else 2.0
FIRST = 600 if SOAK else 200  # in the mailbox at the start; the first stop lands while storing
WHILE_DOWN = 50  # arrive while the database is down, at each restart
AFTER = 20  # arrive once it is all over: the bot carries on


async def stored(bot: Bot) -> int:
    """Messages stored; -1 while the database does not answer."""
    return await rows(bot, MessageRow)


@pytest.mark.timeout(SOAK_TIMEOUT if SOAK else 180)
@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_postgres_restarted_loses_nothing_and_the_bot_carries_on(
    mode: str, dovecot: DovecotServer, private_postgres: PostgresServer, tmp_path: Path
) -> None:
    settings = imap_settings(private_postgres.url, tmp_path, dovecot, batch_size=20)
    await asyncio.to_thread(dovecot.append_many, request_raws(FIRST, "pg"))
    total = FIRST
    at_stop: list[int] = []
    recovery: list[float] = []
    async with running_bot(settings, classifier=FixedClassifier(RequestKind.ACCESS)) as bot:
        for restart in range(RESTARTS):
            # Stopped once a tenth of the latest mail is in: mid-way through storing it.
            await at_least(lambda: stored(bot), total - FIRST + FIRST // 10, within=120)
            at_stop.append(await stored(bot))
            await asyncio.to_thread(private_postgres.stop, mode)
            down = time.monotonic()
            more = request_raws(WHILE_DOWN, "pg", start=total)
            await asyncio.to_thread(dovecot.append_many, more)
            total += WHILE_DOWN
            await asyncio.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down)))
            await asyncio.to_thread(private_postgres.start)
            up = time.monotonic()
            # Until every message that arrived so far is stored (it may all be, already).
            await at_least(lambda: stored(bot), total, within=180)
            recovery.append(time.monotonic() - up)
            if restart < RESTARTS - 1:  # mail for the next stop to land in
                await asyncio.to_thread(dovecot.append_many, request_raws(FIRST, "pg", start=total))
                total += FIRST
        await at_least(lambda: stored(bot), total, within=300)
        await asyncio.to_thread(dovecot.append_many, request_raws(AFTER, "pg", start=total))
        total += AFTER
        await at_least(lambda: stored(bot), total, within=120)
        await at_least(lambda: rows(bot, OutboxRow, OutboxRow.status == "sent"), total, within=300)
        async with bot.sessions() as s:
            subjects = list(await s.scalars(select(CaseRow.subject)))
            messages = int(await s.scalar(select(func.count()).select_from(MessageRow)) or 0)
            quarantined = int(
                await s.scalar(select(func.count()).where(MessageRow.route == "quarantined")) or 0
            )
            queued = int(await s.scalar(select(func.count()).select_from(OutboxRow)) or 0)

    delivered = Counter(m["Message-ID"] for m in outbox_mail(tmp_path / "outbox"))
    report(
        f"PostgreSQL restarted ({mode} shutdown)",
        [
            f"{RESTARTS} restart(s), down {DOWN_SECONDS:.0f} s each, at {at_stop} stored; "
            f"{WHILE_DOWN} messages arrived while down each time",
            f"messages {total}, stored {messages}, quarantined {quarantined}, cases "
            f"{len(subjects)}, duplicate cases {len(subjects) - len(set(subjects))}",
            f"acknowledgements queued {queued}, delivered {sum(delivered.values())}, "
            f"twice {sum(n - 1 for n in delivered.values())}",
            "recovery (database up to every message that had arrived stored), s: "
            + ", ".join(f"{r:.1f}" for r in recovery),
        ],
    )
    assert all(0 < n < total for n in at_stop), "each stop must land while mail is stored"
    assert messages == total
    assert quarantined == 0
    assert sorted(subjects) == sorted(f"Verzoek pg {i}" for i in range(total))
    assert queued == total
    assert len(delivered) == total

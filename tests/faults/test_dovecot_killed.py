"""Dovecot is killed (SIGKILL, its whole process group) while the bot fetches: once it is back,
every message is stored, once, and acknowledged once."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import select

from dsr_bot.domain.cases import RequestKind
from dsr_bot.nlp.classifier import Classification
from dsr_bot.store.tables import CaseRow, MessageRow, OutboxRow
from tests.conftest import (
    FixedClassifier,
    count_rows,
    imap_settings,
    outbox_mail,
    running_bot,
)
from tests.faults import SOAK, SOAK_TIMEOUT, at_least, report, request_raws, rows
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.dovecot

REQUESTS = 2000 if SOAK else 400
KILLS = 10 if SOAK else 2
SEED = 9
PACE_SECONDS = 0.15  # per batch of 20: 400 messages take 3 s or more


class PacedClassifier(FixedClassifier):
    """Takes a moment per batch, as the real model does on a busy machine: the bot is still
    fetching when a kill point is reached, however fast or loaded the machine running the test."""

    async def classify(self, messages: Sequence[tuple[str, str]]) -> list[Classification]:
        await asyncio.sleep(PACE_SECONDS)
        return await super().classify(messages)


def kill(server: DovecotServer) -> None:
    """SIGKILL to every Dovecot process: the IMAP connection ends mid-command, as in a crash."""
    pid = server.pid
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)  # the master leads its own process group
    server.stop()  # waits until all are gone and the port is closed


@pytest.mark.timeout(SOAK_TIMEOUT if SOAK else 180)
async def test_dovecot_killed_during_a_fetch_loses_nothing(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    settings = imap_settings(
        f"sqlite+aiosqlite:///{tmp_path}/dsr-bot.db", tmp_path, dovecot, batch_size=20
    )
    await asyncio.to_thread(dovecot.append_many, request_raws(REQUESTS, "imap"))
    # Kill points: numbers of stored messages, spread over the run.
    points = sorted(rng.sample(range(REQUESTS // 20, REQUESTS * 6 // 10), KILLS))
    stored_at_kill: list[int] = []
    recovery: list[float] = []
    async with running_bot(settings, classifier=PacedClassifier(RequestKind.ACCESS)) as bot:
        for planned in points:
            # A point the bot already passed while recovering from the last kill moves on a little.
            point = max(planned, stored_at_kill[-1] + REQUESTS // 20 if stored_at_kill else 0)
            await at_least(lambda: rows(bot, MessageRow), point, within=120)
            await asyncio.to_thread(kill, dovecot)
            stored_at_kill.append(await count_rows(bot, MessageRow))
            await asyncio.to_thread(dovecot.start)
            up = time.monotonic()
            # Counted once Dovecot is back: a batch fetched before the kill may still be stored.
            after = min(REQUESTS, await count_rows(bot, MessageRow) + 1)
            await at_least(lambda: rows(bot, MessageRow), after, within=120)
            recovery.append(time.monotonic() - up)
        await at_least(lambda: rows(bot, MessageRow), REQUESTS, within=300)
        await at_least(
            lambda: rows(bot, OutboxRow, OutboxRow.status == "sent"), REQUESTS, within=300
        )
        messages = await count_rows(bot, MessageRow)
        cases = await count_rows(bot, CaseRow)
        outbox = await count_rows(bot, OutboxRow)
        async with bot.sessions() as s:
            subjects = list(await s.scalars(select(CaseRow.subject)))
            routes = Counter(await s.scalars(select(MessageRow.route)))

    delivered = Counter(m["Message-ID"] for m in outbox_mail(tmp_path / "outbox"))
    report(
        "Dovecot killed during a fetch",
        [
            f"{REQUESTS} messages in the mailbox, Dovecot killed {len(stored_at_kill)} times, "
            f"at {stored_at_kill} stored",
            f"stored {messages} (routes {dict(routes)}), cases {cases}, "
            f"duplicate cases {len(subjects) - len(set(subjects))}",
            f"acknowledgements queued {outbox}, delivered {sum(delivered.values())}, "
            f"twice {sum(n - 1 for n in delivered.values())}",
            "recovery (Dovecot up to the next message stored), s: "
            + ", ".join(f"{r:.1f}" for r in recovery),
        ],
    )
    assert all(0 < n < REQUESTS for n in stored_at_kill), "each kill must land mid-way"
    assert messages == REQUESTS
    assert set(subjects) == {f"Verzoek imap {i}" for i in range(REQUESTS)}
    assert len(subjects) == REQUESTS
    assert "quarantined" not in routes
    assert outbox == REQUESTS
    assert len(delivered) == REQUESTS

"""Ingest throughput: a full INBOX, a bot started from scratch, until every case is acknowledged."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from dataclasses import dataclass, field

from bench.botrun import Started, connected_at, maildir_count, stored_counts
from bench.progress import say

POLL = 0.005  # watcher.processed is a plain int: cheap to poll often


@dataclass
class IngestResult:
    db: str
    messages: int
    cases: int
    acked: int  # cases with an acknowledgement in the outbox table
    complete: bool
    migrate_s: float  # build_bot: engine and migrations, before serve()
    connect_s: float  # serve() started -> watcher logged in and INBOX selected
    from_connected_s: float  # the headline figure
    from_start_s: float  # serve() started -> done
    per_s_from_connected: float
    per_s_from_start: float
    delivered_s: float | None  # watcher connected -> every acknowledgement in the Maildir
    cpu_s: float  # process CPU, all threads, connected -> done: near from_connected_s = CPU-bound
    runs_per_s: list[float] = field(default_factory=list)  # every run's rate, when repeated


def median(runs: list[IngestResult]) -> IngestResult:
    """The median run by rate (the slower middle one for an even count), listing all rates."""
    ordered = sorted(runs, key=lambda r: r.per_s_from_connected)
    chosen = ordered[(len(ordered) - 1) // 2]
    # An incomplete run is never hidden behind a complete median.
    if not all(r.complete for r in runs):
        chosen = next(r for r in ordered if not r.complete)
    return dataclasses.replace(chosen, runs_per_s=[r.per_s_from_connected for r in runs])


async def measure(started: Started, *, db: str, messages: int, t_build: float) -> IngestResult:
    """`t_build` is perf_counter just before build_bot, so migrations are reported apart."""
    timeout = max(60.0, messages / 10)
    try:
        async with asyncio.timeout(30):
            t_conn = await connected_at(started.watcher)
    except TimeoutError:
        raise RuntimeError("the IMAP watcher did not connect within 30 s") from None
    cpu_start = _cpu()
    deadline = t_conn + timeout
    next_report = t_conn + 2.0
    while started.watcher.processed < messages and time.perf_counter() < deadline:
        await asyncio.sleep(POLL)
        if time.perf_counter() >= next_report:
            say(f"  {db}: {started.watcher.processed}/{messages} processed")
            next_report += 2.0
    t_done = time.perf_counter()
    # processed counts after commit, so the rows should all be there; check, don't assume.
    cases, acked = await stored_counts(started.bot)
    while acked < messages and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
        cases, acked = await stored_counts(started.bot)
        t_done = time.perf_counter()
    cpu = _cpu() - cpu_start
    say(f"  {db}: {cases} cases, {acked} acknowledged, {t_done - t_conn:.2f} s after connect")
    delivered = await _all_delivered(started, acked, t_conn, deadline)
    from_connected = t_done - t_conn
    from_start = t_done - started.serving_at
    return IngestResult(
        db=db,
        messages=messages,
        cases=cases,
        acked=acked,
        complete=acked >= messages,
        migrate_s=started.built_at - t_build,
        connect_s=t_conn - started.serving_at,
        from_connected_s=from_connected,
        from_start_s=from_start,
        per_s_from_connected=messages / from_connected,
        per_s_from_start=messages / from_start,
        delivered_s=delivered,
        cpu_s=cpu,
    )


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


async def _all_delivered(
    started: Started, acked: int, t_conn: float, deadline: float
) -> float | None:
    # The latency phase must not start while the sender still works off this backlog.
    while maildir_count(started.outbox_new) < acked:
        if time.perf_counter() > deadline:
            return None
        await asyncio.sleep(0.02)
    return time.perf_counter() - t_conn

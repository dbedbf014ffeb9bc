"""When the sweeps run: APScheduler 3 in the bot's event loop (4.x is still a pre-release).

The scheduler only triggers; what is due is derived from the database by the sweeps, so a missed
or doubled trigger changes nothing. Every worker runs a scheduler; with `lock`, a job runs in one
worker at a time (a PostgreSQL advisory lock per job), and a worker that finds it taken skips
that run: the worker holding it does the work, and the notice keys stop a repeat after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from dsr_bot.config import Settings
from dsr_bot.domain.deadlines import AMSTERDAM

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]
# A job's name -> an async context manager that yields whether this process may run it now.
Lock = Callable[[str], AbstractAsyncContextManager[bool]]


def _guarded(name: str, job: Job, lock: Lock | None = None) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        if lock is None:
            await _run(name, job)
            return
        async with lock(f"job {name}") as mine:
            if mine:
                await _run(name, job)
            else:
                log.info("%s skipped: another worker is running it", name)

    return run


async def _run(name: str, job: Job) -> None:
    try:
        await job()
    except asyncio.CancelledError:
        # Shutdown cancels a job in flight; its transaction rolls back and the next start
        # does the work (what is due is derived from the database). Not an error.
        log.info("%s interrupted by shutdown; it runs again at the next start", name)
    except Exception as exc:
        # The type only: an exception message could quote a person's data.
        log.error("%s failed (%s); it runs again at its next trigger", name, type(exc).__name__)


def build_scheduler(
    settings: Settings,
    *,
    sweep: Job,
    purge: Job,
    identity_sweep: Job | None = None,
    lock: Lock | None = None,
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=AMSTERDAM)
    guarded_sweep = _guarded("deadline sweep", sweep, lock)
    common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
    periodic = guarded_sweep
    if identity_sweep is not None:
        # Reminders to people, lapsed requests, ID copies past their time: after the deadline
        # sweep in the same job, so the two never wait on each other's database lock (SQLite)
        # and a shutdown finds at most one job in flight.
        guarded_identity = _guarded("identity sweep", identity_sweep, lock)

        async def periodic() -> None:
            await guarded_sweep()
            await guarded_identity()

    scheduler.add_job(
        periodic,
        IntervalTrigger(minutes=settings.staff.sweep_minutes, timezone=AMSTERDAM),
        id="sweep",
        next_run_time=datetime.now(AMSTERDAM),
        **common,
    )
    hour, minute = settings.staff.digest_time.split(":")
    scheduler.add_job(
        guarded_sweep,
        CronTrigger(hour=int(hour), minute=int(minute), timezone=AMSTERDAM),
        id="digest",
        **common,
    )
    hour, minute = settings.retention.purge_time.split(":")
    scheduler.add_job(
        _guarded("retention purge", purge, lock),
        CronTrigger(hour=int(hour), minute=int(minute), timezone=AMSTERDAM),
        id="purge",
        **common,
    )
    return scheduler

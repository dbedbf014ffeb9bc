"""When the sweeps run: APScheduler 3 in the bot's event loop (4.x is still a pre-release).

The scheduler only triggers; what is due is derived from the database by the sweeps, so a missed
or doubled trigger changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from dsr_bot.config import Settings
from dsr_bot.domain.deadlines import AMSTERDAM

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


def _guarded(name: str, job: Job) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await job()
        except Exception as exc:
            # The type only: an exception message could quote a person's data.
            log.error("%s failed (%s); it runs again at its next trigger", name, type(exc).__name__)

    return run


def build_scheduler(
    settings: Settings, *, sweep: Job, purge: Job, identity_sweep: Job | None = None
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=AMSTERDAM)
    guarded_sweep = _guarded("deadline sweep", sweep)
    common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
    if identity_sweep is not None:
        # Reminders to people, lapsed requests, and ID copies past their deletion time.
        scheduler.add_job(
            _guarded("identity sweep", identity_sweep),
            IntervalTrigger(minutes=settings.staff.sweep_minutes, timezone=AMSTERDAM),
            id="identity",
            next_run_time=datetime.now(AMSTERDAM),
            **common,
        )
    scheduler.add_job(
        guarded_sweep,
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
        _guarded("retention purge", purge),
        CronTrigger(hour=int(hour), minute=int(minute), timezone=AMSTERDAM),
        id="purge",
        **common,
    )
    return scheduler

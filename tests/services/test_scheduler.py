"""The scheduler's triggers: the sweep every few minutes and at the digest time, the daily purge."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.services.scheduler import build_scheduler
from tests.conftest import make_settings


async def test_jobs_and_their_times(tmp_path: Path) -> None:
    settings = make_settings(
        "sqlite+aiosqlite://",
        tmp_path,
        staff={"sweep_minutes": 10, "digest_time": "08:00"},
        retention={"purge_time": "03:30"},
    )
    calls: list[str] = []

    async def sweep() -> None:
        calls.append("sweep")

    async def purge() -> None:
        raise RuntimeError("disk on fire")  # logged by type, the scheduler carries on

    scheduler = build_scheduler(settings, sweep=sweep, purge=purge)
    scheduler.start()
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"sweep", "digest", "purge"}
        after = datetime(2026, 11, 25, 7, 0, tzinfo=AMSTERDAM)
        digest = jobs["digest"].trigger.get_next_fire_time(None, after)
        purge_at = jobs["purge"].trigger.get_next_fire_time(None, after)
        assert (digest.hour, digest.minute) == (8, 0)
        assert (purge_at.date().day, purge_at.hour, purge_at.minute) == (26, 3, 30)
        assert jobs["sweep"].trigger.interval.total_seconds() == 600
        for _ in range(50):  # the sweep runs at once at start
            if calls:
                break
            await asyncio.sleep(0.02)
        assert calls == ["sweep"]
        await jobs["purge"].func()  # a failing job does not raise out of the scheduler
    finally:
        scheduler.shutdown(wait=False)


async def test_the_identity_sweep_follows_the_deadline_sweep_even_when_that_fails(
    tmp_path: Path,
) -> None:
    settings = make_settings("sqlite+aiosqlite://", tmp_path)
    calls: list[str] = []

    async def sweep() -> None:
        calls.append("sweep")
        raise RuntimeError("database gone")

    async def identity() -> None:
        calls.append("identity")

    async def purge() -> None:
        calls.append("purge")

    scheduler = build_scheduler(settings, sweep=sweep, purge=purge, identity_sweep=identity)
    scheduler.start()
    try:
        for _ in range(50):
            if len(calls) == 2:
                break
            await asyncio.sleep(0.02)
        assert calls == ["sweep", "identity"]
    finally:
        scheduler.shutdown(wait=False)


async def test_a_job_cancelled_by_shutdown_ends_quietly(tmp_path: Path) -> None:
    settings = make_settings("sqlite+aiosqlite://", tmp_path)
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(60)

    async def purge() -> None:
        pass

    scheduler = build_scheduler(settings, sweep=slow, purge=purge)
    scheduler.start()
    try:
        sweep_job = scheduler.get_job("sweep")
        task = asyncio.ensure_future(sweep_job.func())
        await started.wait()
        task.cancel()
        await task  # returns instead of raising: nothing for the scheduler to log as a crash
        assert task.done() and not task.cancelled()
    finally:
        scheduler.shutdown(wait=False)

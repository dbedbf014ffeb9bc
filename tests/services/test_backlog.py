"""Intake before delivery: the sender gives way to a backlog being stored, never for long."""

from __future__ import annotations

import asyncio

from dsr_bot.services.backlog import LARGE_BATCH, PATIENCE_SECONDS, SETTLE_SECONDS, Backlog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_single_new_mail_never_holds_up_acknowledgements() -> None:
    backlog = Backlog()
    with backlog.storing(1):
        assert not backlog.busy
    assert not backlog.busy


def test_a_large_batch_holds_delivery_until_it_is_stored_and_a_moment_after() -> None:
    clock = Clock()
    backlog = Backlog(clock)
    with backlog.storing(LARGE_BATCH):
        assert backlog.busy
    assert backlog.busy  # the next batch of the backlog is about to start
    clock.now += SETTLE_SECONDS
    assert not backlog.busy


async def test_the_sender_goes_on_once_the_backlog_is_stored() -> None:
    clock = Clock()
    backlog = Backlog(clock)
    with backlog.storing(LARGE_BATCH):
        waiting = asyncio.create_task(backlog.quiet())
        await asyncio.sleep(0.05)
        assert not waiting.done()  # the batch is still being stored
    clock.now += SETTLE_SECONDS
    await asyncio.wait_for(waiting, timeout=5)


async def test_a_backlog_that_never_ends_cannot_starve_the_sender() -> None:
    clock = Clock()
    backlog = Backlog(clock)
    with backlog.storing(LARGE_BATCH):
        waiting = asyncio.create_task(backlog.quiet())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        clock.now += PATIENCE_SECONDS
        await asyncio.wait_for(waiting, timeout=5)
        assert backlog.busy  # it gave up waiting, though intake is still busy

"""Intake before delivery: while a backlog of mail is being stored, acknowledgements wait.

The bot is bound by one core. After a restart with a full mailbox, storing every request first
gives each its case, reference and deadline sooner; the acknowledgements follow as soon as the
backlog is in, and a single new mail is never held up. The wait is bounded, so a steady stream
of mail cannot starve the sender.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

LARGE_BATCH = 10  # a batch this big means more mail is probably waiting behind it
SETTLE_SECONDS = 0.05  # after a large batch: room for the next one to start
PATIENCE_SECONDS = 2.0  # the longest the sender gives way at a time


class Backlog:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._large = 0  # large batches being stored now
        self._busy_until = 0.0

    @contextmanager
    def storing(self, count: int) -> Iterator[None]:
        """Around the storing of a batch of `count` messages."""
        if count < LARGE_BATCH:
            yield
            return
        self._large += 1
        try:
            yield
        finally:
            self._large -= 1
            self._busy_until = self._clock() + SETTLE_SECONDS

    @property
    def busy(self) -> bool:
        return self._large > 0 or self._clock() < self._busy_until

    async def quiet(self) -> None:
        """Return once no backlog is being stored, or after PATIENCE_SECONDS."""
        deadline = self._clock() + PATIENCE_SECONDS
        # Polled: being busy ends with time as well as with an event; only during a backlog.
        while self.busy and self._clock() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

"""Is the bot alive: the database answers, and the loops `Bot.serve` started still run.

`/healthz` and `/metrics` read this (console/views/ops.py). Nothing here names a person: loops
are named by their task ("outbox", "imap-<mailbox name from the settings>", "telegram", ...).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.config import MailboxSettings

DB_TIMEOUT_SECONDS = 5.0


class Watched(Protocol):
    """What health and metrics read of an IMAP watcher (channels/imap.py)."""

    box: MailboxSettings
    connected: threading.Event  # set while logged in
    synced_at: float | None  # wall-clock time it last knew it had every message


@dataclass(frozen=True, slots=True)
class WatcherState:
    mailbox: str  # the configured mailbox name
    connected: bool
    lag_seconds: float  # since it last had every message (since start, if never)


@dataclass
class Loops:
    """The running bot's tasks and IMAP watchers, registered by `Bot.serve` once started.

    Empty (a console without a bot, as in tests) reports no loops at all."""

    started_at: float = field(default_factory=time.time)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    watchers: Sequence[Watched] = ()
    stop: asyncio.Event | None = None

    def track(
        self,
        tasks: Iterable[asyncio.Task[Any]],
        watchers: Sequence[Watched],
        stop: asyncio.Event,
    ) -> None:
        self.tasks = list(tasks)
        self.watchers = watchers
        self.stop = stop

    @property
    def stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def states(self) -> dict[str, str]:
        """Task name -> running, stopped (after a stop) or failed (ended while the bot runs);
        a running IMAP watcher is connected, reconnecting or standby (another worker reads its
        mailbox) instead."""
        out: dict[str, str] = {}
        for task in self.tasks:
            if task.done():
                out[task.get_name()] = "stopped" if self.stopping else "failed"
            else:
                out[task.get_name()] = "running"
        for watcher in self.watchers:
            name = f"imap-{watcher.box.name}"
            if out.get(name) == "running":
                out[name] = "connected" if watcher.connected.is_set() else "reconnecting"
                if _standby(watcher):
                    out[name] = "standby"  # another worker reads this mailbox
        return out

    def problems(self) -> list[str]:
        """Why the bot is not healthy; empty when it is."""
        found = [f"{name} {state}" for name, state in self.states().items() if state == "failed"]
        if self.stopping:
            found.append("stopping")
        return found

    def watcher_states(self, now: float) -> list[WatcherState]:
        return [
            WatcherState(
                mailbox=w.box.name,
                connected=w.connected.is_set(),
                # A standby worker is not behind: the one reading the mailbox reports its lag.
                lag_seconds=0.0
                if _standby(w)
                else max(0.0, now - (w.synced_at or self.started_at)),
            )
            for w in self.watchers
        ]


def _standby(watcher: Watched) -> bool:
    return bool(getattr(watcher, "standby", False))  # ImapWatcher.standby; absent in fakes


async def database_problem(sessions: async_sessionmaker[AsyncSession]) -> str | None:
    """None when the database answers a trivial query in time, else why not (the error's type
    only: a driver's message can name the server and the user)."""
    try:
        async with asyncio.timeout(DB_TIMEOUT_SECONDS), sessions() as session:
            await session.execute(select(1))
    except TimeoutError:
        return f"database did not answer within {DB_TIMEOUT_SECONDS:g} s"
    except Exception as exc:  # any failure means unhealthy, and is reported
        return f"database unreachable ({type(exc).__name__})"
    return None

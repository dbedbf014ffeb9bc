"""Which of several workers does what only one may do: PostgreSQL advisory locks.

Several `dsr-bot run` processes may share one PostgreSQL database. Each IMAP mailbox is read by
one of them at a time (`leading`: a session-level lock held on a connection of its own, so it
goes with the process or its connection, and a standby worker takes over); a scheduled job runs
in one of them at a time (`exclusive`). The locks save work and noise; they are not what keeps
data whole: unique keys are (a message's source and UID, its Message-ID; a notice's key), so a
worker that loses its lock mid-batch cannot store anything twice.

SQLite serves one host and one writer at a time: its locks are always granted, and `dsr-bot run`
refuses a second process on the same database file (`single_process`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import random
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dsr_bot.errors import ConfigError

log = logging.getLogger(__name__)

LOCK_CLASS = 0x64737262  # "dsrb": the first half of every dsr-bot advisory lock key
RETRY_SECONDS = 2.0  # a standby worker tries to take the lock this often
DOWN_RETRY_MAX_SECONDS = 5.0  # with the database down, at most this long between tries
CHECK_SECONDS = 5.0  # the holder checks this often that its lock's connection still answers
# ... and gives it this long: a busy server is not a lost lock (and a lost one is only lost
# work: the unique keys keep a second reader from storing anything twice).
ANSWER_SECONDS = 30.0
_ACQUIRE = text("SELECT pg_try_advisory_lock(:cls, :key)")
_RELEASE = text("SELECT pg_advisory_unlock(:cls, :key)")


def lock_key(name: str) -> int:
    """A stable signed 32-bit key for a lock name (the second half of the key)."""
    value = zlib.crc32(name.encode())
    return value - 2**32 if value >= 2**31 else value


class AdvisoryLock:
    """One named lock, held on a connection of its own (autocommit: no transaction stays open).

    Not PostgreSQL: always granted."""

    def __init__(self, engine: AsyncEngine, name: str) -> None:
        self.name = name
        self._engine = engine
        self._params = {"cls": LOCK_CLASS, "key": lock_key(name)}
        self._conn: AsyncConnection | None = None
        self._held = False

    @property
    def shared(self) -> bool:
        """Whether other processes can contend for it (a PostgreSQL database)."""
        return self._engine.dialect.name == "postgresql"

    async def try_acquire(self) -> bool:
        if not self.shared:
            return True
        if self._held:
            return True
        if self._conn is None:
            conn = await self._engine.connect()
            try:
                self._conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            except BaseException:
                await conn.close()
                raise
        try:
            self._held = bool(await self._conn.scalar(_ACQUIRE, self._params))
        except BaseException:
            await self._drop()
            raise
        return self._held

    async def alive(self) -> bool:
        """Whether the lock is still ours: its connection still answers."""
        if not self.shared:
            return True
        if self._conn is None or not self._held:
            return False
        try:
            async with asyncio.timeout(ANSWER_SECONDS):
                await self._conn.scalar(text("SELECT 1"))
        except Exception:
            await self._drop()
            return False
        return True

    async def release(self) -> None:
        """Unlock and give the connection back; a broken one is thrown away (and with it the
        lock, which the server drops with the session)."""
        if self._conn is None:
            return
        try:
            if self._held:
                await self._conn.scalar(_RELEASE, self._params)
            self._held = False
            await self._conn.close()
            self._conn = None
        except Exception:
            await self._drop()

    async def _drop(self) -> None:
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()
            with contextlib.suppress(Exception):
                await conn.close()


@contextlib.asynccontextmanager
async def exclusive(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    """For one job: yields whether this process got the lock (and holds it meanwhile)."""
    lock = AdvisoryLock(engine, name)
    try:
        got = await lock.try_acquire()
    except Exception as exc:
        log.warning("%s: cannot take its lock (%s); skipped", name, type(exc).__name__)
        got = False
    try:
        yield got
    finally:
        await lock.release()


Work = Callable[[asyncio.Event], Awaitable[None]]


async def leading(
    lock: AdvisoryLock,
    work: Work,
    stop: asyncio.Event,
    *,
    on_standby: Callable[[bool], None] = lambda standby: None,
    retry_seconds: float = RETRY_SECONDS,
) -> None:
    """Run `work` while this process holds `lock`, until `stop` is set.

    Without the lock, stand by and try again every few seconds. `work` gets an event of its
    own, set on `stop` or when the lock's connection stops answering (another worker may then
    take over); it finishes what it has in hand and returns. When `work` returns by itself
    (a channel that gave up), so does this.
    """
    if not lock.shared:
        await work(stop)
        return
    waiting_said = False
    failures = 0
    try:
        while not stop.is_set():
            try:
                got = await lock.try_acquire()
                failures = 0
            except Exception as exc:
                # The database is down: not standing by (no other worker has it), waiting.
                failures += 1
                if failures == 1:
                    log.warning(
                        "%s: cannot take its lock (%s); trying again until the database answers",
                        lock.name,
                        type(exc).__name__,
                    )
                on_standby(False)
                delay = min(DOWN_RETRY_MAX_SECONDS, retry_seconds * 2 ** (failures - 1))
                await _wait(stop, delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter
                continue
            if not got:
                on_standby(True)
                if not waiting_said:
                    log.info("%s: another worker has it; this one stands by", lock.name)
                    waiting_said = True
                await _wait(stop, retry_seconds * random.uniform(0.5, 1.0))  # noqa: S311 - jitter
                continue
            if waiting_said:
                log.info("%s: taken over by this worker", lock.name)
            waiting_said = False
            on_standby(False)
            try:
                if await _hold(lock, work, stop):
                    return
            finally:
                await lock.release()
    finally:
        await lock.release()  # a standby's connection, too


async def _hold(lock: AdvisoryLock, work: Work, stop: asyncio.Event) -> bool:
    """Run `work` while the lock holds; True when it returned by itself."""
    quit_ = asyncio.Event()
    task = asyncio.ensure_future(work(quit_))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while not task.done():
            await asyncio.wait(
                [task, stopping], timeout=CHECK_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            if stop.is_set():
                break
            if not task.done() and not await lock.alive():
                log.warning("%s: lost its lock (database connection gone); stopping", lock.name)
                break
        by_itself = task.done() and not stop.is_set()
        quit_.set()
        await task  # the batch in hand is finished first
        return by_itself
    finally:
        stopping.cancel()
        if not task.done():
            task.cancel()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


@contextlib.contextmanager
def single_process(database_url: str) -> Iterator[None]:
    """SQLite: hold an exclusive lock on a file beside the database for as long as the bot runs,
    so a second `dsr-bot run` on the same file stops with a clear message instead of reading
    the same mailboxes again. PostgreSQL: nothing to do."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    path = Path(f"{url.database}.run-lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"database.url: cannot create {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another dsr-bot process already runs on {url.database}: SQLite serves one "
                "worker; several workers need PostgreSQL (see docs/deployment.md, "
                "'Running several workers')"
            ) from None
        yield
    finally:
        os.close(fd)  # closing the file releases the lock

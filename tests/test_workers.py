"""Several `dsr-bot run` processes on one PostgreSQL database and one IMAP mailbox: every
message becomes one case, every case gets one acknowledgement, delivered once; a standby takes
over from a reader that dies; SQLite refuses a second worker. Then, in process, what makes it
hold: one lock holder, one job runner, and two writers of the same batch storing it once."""

from __future__ import annotations

import asyncio
import functools
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker

from dsr_bot.channels.mime import parse_mail
from dsr_bot.domain.cases import find_references
from dsr_bot.nlp.classifier import Unclassified
from dsr_bot.replies import Replies
from dsr_bot.services.pipeline import Pipeline
from dsr_bot.services.scheduler import build_scheduler
from dsr_bot.store import migrate
from dsr_bot.store.engine import create_engine
from dsr_bot.store.locks import AdvisoryLock, Work, exclusive, leading
from tests.conftest import (
    PG,
    _postgres_database,
    eventually,
    make_settings,
    outbox_mail,
    request_mail,
)
from tests.process import BotProcess
from tests.servers.dovecot import DovecotServer

TOTAL = 300
WAIT = 90.0  # seconds; generous, for a loaded machine


class Worker(BotProcess):
    """A bot process with `dsr-bot run` options of its own (BotProcess runs it without)."""

    def __init__(self, workdir: Path, config: str, options: list[str]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(workdir, config)
        self.options = options

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dsr_bot",
                "--config",
                str(self.config_path),
                "run",
                *self.options,
            ],
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def reads_the_mailbox(self) -> bool:
        return "imap info: logged in" in self.log()


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from _postgres_database(request)


def _config(pg_url: str, shared: Path, dovecot: DovecotServer) -> str:
    # One configuration for every worker; what they share is named by absolute paths.
    return f"""
[database]
url = "{pg_url}"
[mail]
outbox_maildir = "{shared}/outbox"
retry_initial_seconds = 0.2
delivery_lease_seconds = 5
[identity]
storage_dir = "{shared}/id-copies"
[console]
template_overrides = "{shared}/templates"
[classifier]
enabled = false
[[mailboxes]]
name = "info"
imap_url = "{dovecot.imap_url()}"
batch_size = 20
"""


def _workers(count: int, tmp_path: Path, config: str) -> list[Worker]:
    # The first serves the console; the others run without, as extra workers on one host may.
    return [
        Worker(tmp_path / f"worker{n}", config, [] if n == 0 else ["--no-console"])
        for n in range(count)
    ]


def _query(pg_url: str, sql: str) -> list[tuple[object, ...]]:
    async def go() -> list[tuple[object, ...]]:
        conn = await asyncpg.connect(**PG, database=make_url(pg_url).database, timeout=5)
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        except asyncpg.UndefinedTableError:
            return []  # not migrated yet
        finally:
            await conn.close()

    return asyncio.run(go())


def _count(pg_url: str, sql: str) -> int:
    rows = _query(pg_url, sql)
    return int(rows[0][0]) if rows else 0  # type: ignore[call-overload]


def _wait_until(pg_url: str, sql: str, n: int, workers: list[Worker]) -> None:
    deadline = time.monotonic() + WAIT
    while (found := _count(pg_url, sql)) < n:
        for worker in workers:
            if worker.proc is not None and worker.proc.poll() is not None:
                raise AssertionError(f"a worker exited: {worker.log()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{sql}: {found} of {n} after {WAIT} s")
        time.sleep(0.2)


def _append(dovecot: DovecotServer, first: int, last: int) -> None:
    dovecot.append_many(
        request_mail(sender=f"p{i}@example.nl", subject=f"Verzoek {i}").as_bytes()
        for i in range(first, last)
    )


def _assert_once_each(pg_url: str, shared: Path, total: int) -> None:
    assert _count(pg_url, "SELECT count(*) FROM messages") == total
    assert _count(pg_url, "SELECT count(DISTINCT external_id) FROM messages") == total
    assert _count(pg_url, "SELECT count(*) FROM cases") == total
    assert _count(pg_url, "SELECT count(DISTINCT subject) FROM cases") == total
    acks = "FROM outbox WHERE kind = 'acknowledgement'"
    assert _count(pg_url, f"SELECT count(*) {acks}") == total
    assert _count(pg_url, f"SELECT count(DISTINCT case_id) {acks}") == total
    # What people received: one acknowledgement per case reference.
    references = {str(r[0]) for r in _query(pg_url, "SELECT reference FROM cases")}
    delivered = outbox_mail(shared / "outbox")
    per_case = Counter(str(find_references(str(m["Subject"]))[0]) for m in delivered)
    assert set(per_case) == references
    assert max(per_case.values()) == 1
    assert len({m["Message-ID"] for m in delivered}) == total


@pytest.mark.parametrize("count", [2, 4])
@pytest.mark.dovecot
@pytest.mark.postgres
def test_workers_started_together_store_and_answer_each_message_once(
    count: int, dovecot: DovecotServer, pg_url: str, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    _append(dovecot, 0, TOTAL)
    workers = _workers(count, tmp_path, _config(pg_url, shared, dovecot))
    try:
        for worker in workers:  # on an empty database: they also race to migrate it
            worker.start()
        _wait_until(pg_url, "SELECT count(*) FROM outbox WHERE status = 'sent'", TOTAL, workers)
        # Counted before stopping: a standby takes over while the others stop one by one.
        readers = sum(w.reads_the_mailbox() for w in workers)
    finally:
        statuses = [worker.stop() for worker in workers]
    assert statuses == [0] * count, [w.log()[-2000:] for w in workers]
    _assert_once_each(pg_url, shared, TOTAL)
    assert readers == 1  # the others stood by


@pytest.mark.dovecot
@pytest.mark.postgres
def test_a_standby_worker_takes_over_when_the_reader_dies(
    dovecot: DovecotServer, pg_url: str, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    half = TOTAL // 2
    workers = _workers(2, tmp_path, _config(pg_url, shared, dovecot))
    try:
        for worker in workers:
            worker.start()
        _append(dovecot, 0, half)
        _wait_until(pg_url, "SELECT count(*) FROM cases", half, workers)
        reader = next(w for w in workers if w.reads_the_mailbox())
        reader.signal_group(signal.SIGKILL)
        reader.wait()
        survivor = next(w for w in workers if w is not reader)
        _append(dovecot, half, TOTAL)  # only the survivor can read these
        _wait_until(pg_url, "SELECT count(*) FROM outbox WHERE status = 'sent'", TOTAL, [survivor])
        assert survivor.reads_the_mailbox()
    finally:
        for worker in workers:
            worker.stop()
    # Delivery is at least once: an acknowledgement the reader sent just before it was killed
    # may go again, with the same Message-ID; the outbox and the cases hold each one once.
    assert _count(pg_url, "SELECT count(*) FROM cases") == TOTAL
    assert _count(pg_url, "SELECT count(*) FROM outbox WHERE kind = 'acknowledgement'") == TOTAL
    assert _count(pg_url, "SELECT count(*) FROM messages") == TOTAL
    assert len({m["Message-ID"] for m in outbox_mail(shared / "outbox")}) == TOTAL


def test_a_second_worker_on_one_sqlite_database_is_refused(tmp_path: Path) -> None:
    config = f"""
[database]
url = "sqlite+aiosqlite:///{tmp_path}/shared.db"
[mail]
outbox_maildir = "{tmp_path}/outbox"
[smtp_intake]
enabled = "off"
[classifier]
enabled = false
"""
    first = Worker(tmp_path / "first", config, [])
    second = Worker(tmp_path / "second", config, ["--no-console"])
    with first:
        deadline = time.monotonic() + WAIT
        while "dsr-bot running" not in first.log():
            assert time.monotonic() < deadline, first.log()
            time.sleep(0.1)
        second.start()
        assert second.wait(WAIT) == 2
        assert first.proc is not None and first.proc.poll() is None  # the first one runs on
    assert "several workers need PostgreSQL" in second.log()


@pytest.mark.postgres
async def test_a_lock_has_one_holder_among_workers(pg_url: str) -> None:
    engine = create_engine(pg_url)
    first, second = AdvisoryLock(engine, "imap info"), AdvisoryLock(engine, "imap info")
    try:
        assert await first.try_acquire()
        assert not await second.try_acquire()
        async with exclusive(engine, "imap info") as mine:
            assert not mine
        await first.release()
        assert await second.try_acquire()
    finally:
        await first.release()
        await second.release()
        await engine.dispose()


@pytest.mark.postgres
async def test_two_workers_storing_the_same_batch_open_each_case_once(
    pg_url: str, tmp_path: Path
) -> None:
    """What the mailbox lock normally prevents (a reader that lost its lock mid-batch): the
    unique keys still decide, and the batch's second writer stores nothing twice."""
    received = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    items = [
        parse_mail(
            request_mail(sender=f"p{i}@example.nl", subject=f"Verzoek {i}").as_bytes(),
            source="info",
            external_id=f"7:{i}",
            received_at=received,
        )
        for i in range(20)
    ]
    engines = [create_engine(pg_url) for _ in range(3)]
    await migrate.upgrade(engines[0])
    settings = make_settings(pg_url, tmp_path)
    pipelines = [
        Pipeline(
            sessions=async_sessionmaker(engine, expire_on_commit=False),
            settings=settings,
            classifier=Unclassified(),
            replies=Replies(),
            clock=lambda: received,
        )
        for engine in engines[:2]
    ]
    try:
        # Both workers get past the known-message check before either writes: the reference
        # counter is held until both wait for it.
        async with engines[2].begin() as gate:
            await gate.execute(text("LOCK TABLE reference_counters IN EXCLUSIVE MODE"))
            ingests = [asyncio.create_task(p.ingest(items)) for p in pipelines]

            async def both_waiting() -> bool:
                async with engines[2].connect() as conn:
                    waiting = await conn.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                        )
                    )
                return int(waiting or 0) >= 2

            await eventually(both_waiting, within=30)
        outcomes = [o for task in ingests for o in await task]
        async with engines[2].connect() as conn:
            counts = [
                await conn.scalar(text(f"SELECT count(*) FROM {table}"))
                for table in ("cases", "messages", "outbox WHERE kind = 'acknowledgement'")
            ]
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(o.route is not None for o in outcomes) == len(items)  # the other saw duplicates
    assert counts == [len(items)] * 3  # cases, messages, acknowledgements


@pytest.mark.postgres
async def test_a_scheduled_job_runs_in_one_worker_at_a_time(pg_url: str, tmp_path: Path) -> None:
    engine = create_engine(pg_url)
    purged: list[str] = []

    async def sweep() -> None:
        pass

    async def purge() -> None:
        purged.append("purged")

    scheduler = build_scheduler(
        make_settings(pg_url, tmp_path),
        sweep=sweep,
        purge=purge,
        lock=functools.partial(exclusive, engine),
    )
    job = scheduler.get_job("purge").func
    other_worker = AdvisoryLock(engine, "job retention purge")
    try:
        assert await other_worker.try_acquire()
        await job()
        assert purged == []  # the other worker is purging
        await other_worker.release()
        await job()
        assert purged == ["purged"]
    finally:
        await other_worker.release()
        await engine.dispose()


@pytest.mark.postgres
async def test_a_standby_takes_the_lock_over_when_the_holder_stops(pg_url: str) -> None:
    engine = create_engine(pg_url)
    working: list[str] = []
    standby: dict[str, bool] = {}

    def work(name: str) -> Work:
        async def run(quit_: asyncio.Event) -> None:
            working.append(name)
            await quit_.wait()
            working.remove(name)

        return run

    def lead(name: str, stop: asyncio.Event) -> asyncio.Task[None]:
        def on_standby(waiting: bool) -> None:
            standby[name] = waiting

        lock = AdvisoryLock(engine, "imap info")
        return asyncio.create_task(
            leading(lock, work(name), stop, on_standby=on_standby, retry_seconds=0.2)
        )

    stops = {"a": asyncio.Event(), "b": asyncio.Event()}
    try:
        first = lead("a", stops["a"])

        async def a_works() -> bool:
            return working == ["a"]

        await eventually(a_works)
        second = lead("b", stops["b"])

        async def b_waits() -> bool:
            return standby.get("b", False)

        await eventually(b_waits)
        assert working == ["a"]
        stops["a"].set()
        await first

        async def b_works() -> bool:
            return working == ["b"]

        await eventually(b_works)
        assert standby["b"] is False
        stops["b"].set()
        await second
    finally:
        for stop in stops.values():
            stop.set()
        await engine.dispose()

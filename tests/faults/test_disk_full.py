"""The data directory's disk fills up (a small tmpfs, filled by the test): the bot says clearly
that the disk is full, its SQLite database stays whole, and once there is room again it stores
and acknowledges everything that arrived meanwhile, once."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsr_bot.domain.cases import RequestKind
from dsr_bot.store.tables import MessageRow
from tests.conftest import FixedClassifier, eventually, make_settings, outbox_mail, running_bot
from tests.faults import SOAK, SOAK_TIMEOUT, at_least, report, request_raws, rows
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.dovecot

DISK_BYTES = 16 * 1024 * 1024
FULL_SECONDS = 60.0 if SOAK else 3.0
BEFORE, WHILE_FULL = 10, (100 if SOAK else 20)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs as the bot's data directory (needs root: mount)."""
    path = tmp_path / "data"
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> int:
    """Writes a file until the disk is full; returns its size."""
    written = 0
    chunk = b"\0" * 65536
    with (path / "filler").open("wb", buffering=0) as out:
        while True:
            try:
                written += out.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        # The last few bytes, so not even a page is left.
        with contextlib.suppress(OSError):
            while out.write(b"\0" * 512):
                written += 512
    return written


def integrity(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def empty_wal(db: Path) -> None:
    """Checkpoint and truncate the WAL, so the next write must grow it (and finds no room):
    a WAL file is otherwise reused from its start, and small writes would still fit."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        for _ in range(100):
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return
            time.sleep(0.1)
    finally:
        conn.close()
    raise AssertionError("the WAL could not be checkpointed")


@pytest.mark.timeout(SOAK_TIMEOUT if SOAK else 180)
async def test_a_full_disk_is_reported_and_corrupts_nothing(
    dovecot: DovecotServer, small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    db = small_disk / "dsr-bot.db"
    outbox = small_disk / "outbox"
    settings = make_settings(
        f"sqlite+aiosqlite:///{db}",
        small_disk,
        mailboxes=[{"name": "info", "imap_url": dovecot.imap_url(), "batch_size": 20}],
        mail={"retry_max_seconds": 2.0, "max_attempts": 1000},
    )
    total = BEFORE + WHILE_FULL
    async with running_bot(settings, classifier=FixedClassifier(RequestKind.ACCESS)) as bot:
        await asyncio.to_thread(dovecot.append_many, request_raws(BEFORE, "disk"))
        await at_least(lambda: rows(bot, MessageRow), BEFORE, within=60)
        await at_least(lambda: delivered(outbox), BEFORE, within=60)

        await asyncio.to_thread(empty_wal, db)
        filler = await asyncio.to_thread(fill, small_disk)
        full = time.monotonic()
        more = request_raws(WHILE_FULL, "disk", start=BEFORE)
        await asyncio.to_thread(dovecot.append_many, more)
        await eventually(lambda: _said(caplog, "the disk is full"), within=60)
        await asyncio.sleep(max(0.0, FULL_SECONDS - (time.monotonic() - full)))
        while_full = await rows(bot, MessageRow)
        integrity_full = await asyncio.to_thread(integrity, db)

        (small_disk / "filler").unlink()
        freed = time.monotonic()
        await at_least(lambda: rows(bot, MessageRow), total, within=180)
        await at_least(lambda: delivered(outbox), total, within=180)
        recovery = time.monotonic() - freed
        await asyncio.sleep(1.0)  # anything sent twice would be there by now

    errors = sorted({r.getMessage() for r in caplog.records if "full" in r.getMessage()}, key=len)
    ids = Counter(m["Message-ID"] for m in outbox_mail(outbox))
    integrity_after = integrity(db)
    conn = sqlite3.connect(db)
    try:
        messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        subjects = [row[0] for row in conn.execute("SELECT subject FROM cases")]
    finally:
        conn.close()
    report(
        "data directory's disk full",
        [
            f"tmpfs of {DISK_BYTES // 2**20} MB filled ({filler // 1024} KB filler) for "
            f"{FULL_SECONDS:.0f} s; {WHILE_FULL} messages arrived meanwhile",
            f"logged: {errors[0] if errors else 'nothing'}",
            f"stored while full: {while_full - BEFORE} of {WHILE_FULL}; integrity_check while "
            f"full: {integrity_full}, after: {integrity_after}",
            f"messages {messages}, cases {len(subjects)}, duplicate cases "
            f"{len(subjects) - len(set(subjects))}, acknowledgements delivered "
            f"{sum(ids.values())}, twice {sum(n - 1 for n in ids.values())}",
            f"recovery (room again to everything stored and acknowledged) {recovery:.1f} s",
        ],
    )
    assert errors, "the bot must say the disk is full"
    assert while_full == BEFORE  # nothing half-stored
    assert integrity_full == "ok"
    assert integrity_after == "ok"
    assert messages == total
    assert sorted(subjects) == sorted(f"Verzoek disk {i}" for i in range(total))
    assert len(ids) == total
    assert sum(ids.values()) == total


async def delivered(outbox: Path) -> int:
    return len(await asyncio.to_thread(outbox_mail, outbox))


async def _said(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in r.getMessage() for r in caplog.records)

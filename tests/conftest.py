"""Shared fixtures: databases (SQLite and PostgreSQL), settings, a running bot, mail helpers."""

from __future__ import annotations

import asyncio
import functools
import mailbox
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.app import Bot, build_bot
from dsr_bot.config import Settings
from dsr_bot.domain.cases import RequestKind
from dsr_bot.nlp.classifier import Classification, SpacyClassifier
from dsr_bot.store import migrate
from dsr_bot.store.engine import create_engine
from tests.servers.dovecot import DovecotServer

# Long Message-IDs in In-Reply-To stay unencoded, as real mail clients write them.
REQUEST_POLICY = policy.default.clone(max_line_length=998)

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


async def _pg_execute(sql: str) -> None:
    conn = await asyncpg.connect(**PG, database="postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _ensure_postgres() -> None:
    """The machine's PostgreSQL; started here if it is installed but stopped."""
    try:
        asyncio.run(_pg_execute("SELECT 1"))
        return
    except (OSError, asyncpg.PostgresError):
        pass
    versions = os.listdir("/etc/postgresql") if os.path.isdir("/etc/postgresql") else []
    for version in versions:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            check=False,
            capture_output=True,
        )
    try:
        asyncio.run(_pg_execute("SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}")


@pytest.fixture(scope="session")
def postgres_server() -> None:
    _ensure_postgres()


def _postgres_database(request: pytest.FixtureRequest) -> Iterator[str]:
    request.getfixturevalue("postgres_server")
    name = f"dsr_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_execute(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test gets an empty database; storage tests run once on each backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/dsr-bot.db"
    else:
        yield from _postgres_database(request)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/dsr-bot.db"


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed deployment secret, so no test writes a key file into the checkout."""
    monkeypatch.setenv("DSR_BOT_SECRET_KEY", "dsr-bot tests: not a real secret")


def make_settings(database_url: str, tmp_path: Path, **sections: Any) -> Settings:
    data: dict[str, Any] = {
        "database": {"url": database_url},
        "mail": {"outbox_maildir": str(tmp_path / "outbox"), "retry_initial_seconds": 0.2},
        "smtp_intake": {"enabled": "off", "port": 0},
        # No digest to the privacy officer in tests that count outgoing mail; test_sweeps turns
        # it on.
        "staff": {"daily_digest": False},
        "identity": {"storage_dir": str(tmp_path / "id-copies")},
        "console": {"addr": "127.0.0.1:0", "template_overrides": str(tmp_path / "templates")},
    }
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(name), dict):
            data[name] = {**data[name], **value}
        else:
            data[name] = value
    return Settings.model_validate(data)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class FixedClassifier:
    """Gives every message the same label at the same score: pipeline tests choose the answer."""

    kind: RequestKind
    score: float = 0.9
    confident: bool = True

    async def classify(self, messages: Sequence[tuple[str, str]]) -> list[Classification]:
        return [self.answer() for _ in messages]

    def answer(self) -> Classification:
        return Classification(
            kinds=frozenset({self.kind}),
            confidence=self.score,
            model="test",
            scores={self.kind.value: self.score},
            confident=self.confident,
        )


@functools.cache
def trained_classifier(path: Path) -> SpacyClassifier:
    """The committed model, loaded once per test run (loading takes about a second)."""
    return SpacyClassifier.load(path)


@asynccontextmanager
async def running_bot(settings: Settings, **kwargs: Any) -> AsyncIterator[Bot]:
    """The whole bot, as `dsr-bot run` starts it, in this test's event loop."""
    if "classifier" not in kwargs and settings.classifier.enabled:
        kwargs["classifier"] = trained_classifier(settings.classifier.model_path)
    async with build_bot(settings, imap_initial_backoff=0.2, **kwargs) as bot:
        serving = asyncio.create_task(bot.serve())
        try:
            if bot.intake is not None:
                await eventually(lambda: _listening(bot), within=5)
            yield bot
        finally:
            bot.stop.set()
            await asyncio.wait_for(serving, timeout=30)


async def _listening(bot: Bot) -> bool:
    assert bot.intake is not None
    return bot.intake.port != 0


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 10.0, interval: float = 0.05
) -> None:
    """Wait until `check` holds; fail the test with the timeout otherwise."""
    deadline = time.monotonic() + within
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within} s")
        await asyncio.sleep(interval)


def outbox_mail(path: Path) -> list[EmailMessage]:
    # The outbox creates the folder before its cur/new/tmp; a poll in between sees no mail yet.
    if not all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
        return []
    box = mailbox.Maildir(path, factory=None, create=False)
    return [_as_email(m) for m in box]


def _as_email(message: mailbox.MaildirMessage) -> EmailMessage:
    from email import message_from_bytes, policy

    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def request_mail(
    *,
    sender: str = "Jan Jansen <jan@example.nl>",
    subject: str = "Inzage in mijn gegevens",
    body: str = "Beste,\n\nIk wil graag weten welke gegevens u van mij heeft.\n\nGroet, Jan",
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    msg = EmailMessage(policy=REQUEST_POLICY)
    msg["From"] = sender
    msg["To"] = "info@academiewerkendleren.nl"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@example.nl>"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg


@pytest.fixture
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    """A private Dovecot on a free loopback port, stopped by its process id afterwards."""
    server = DovecotServer(tmp_path_factory.mktemp("dovecot"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def imap_settings(database_url: str, tmp_path: Path, server: DovecotServer, **box: Any) -> Settings:
    mailbox_settings = {"name": "info", "imap_url": server.imap_url(), **box}
    return make_settings(database_url, tmp_path, mailboxes=[mailbox_settings])


async def count_rows(bot: Bot, table: type[Any]) -> int:
    from sqlalchemy import func, select

    async with bot.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)

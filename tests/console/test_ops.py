"""/healthz and /metrics through the console app: open or guarded, and what they report."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from dsr_bot.config import MailboxSettings, Settings
from dsr_bot.console.app import create_app
from dsr_bot.console.context import ConsoleContext
from dsr_bot.domain.cases import RequestKind
from dsr_bot.services import casework
from dsr_bot.services.health import Loops
from dsr_bot.store.engine import create_engine
from dsr_bot.store.tables import MailboxStateRow, NoticeRow, OutboxRow
from tests.conftest import make_settings
from tests.console.conftest import ACCOUNTS, NOW, Clock, anonymous, open_case

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
# Nothing listens here: connecting is refused at once.
NO_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:1/gone"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # One configured mailbox (not watched: no URL), for the mailbox figures.
    return make_settings(database_url, tmp_path, mailboxes=[{"name": "info"}])


def parse(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def client_from(app: Starlette, host: str, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(host, 50000)),
        base_url="http://console.test",
        headers=headers,
    )


def with_token(ctx: ConsoleContext, token: str) -> ConsoleContext:
    console = ctx.settings.console.model_copy(update={"metrics_token": SecretStr(token)})
    settings = ctx.settings.model_copy(update={"console": console})
    return ConsoleContext(
        settings=settings,
        sessions=ctx.sessions,
        replies=ctx.replies,
        desk=ctx.desk,
        clock=ctx.clock,
    )


@pytest.fixture
async def no_database(ctx: ConsoleContext) -> AsyncIterator[ConsoleContext]:
    """The console as it is when the database server has gone away."""
    engine = create_engine(NO_DATABASE)
    try:
        yield ConsoleContext(
            settings=ctx.settings,
            sessions=async_sessionmaker(engine, expire_on_commit=False),
            replies=ctx.replies,
            desk=ctx.desk,
            clock=ctx.clock,
        )
    finally:
        await engine.dispose()


@dataclass
class Watcher:
    """What /healthz and /metrics read of an IMAP watcher."""

    box: MailboxSettings
    connected: threading.Event = field(default_factory=threading.Event)
    synced_at: float | None = None


# --- /healthz --------------------------------------------------------------------------------


async def test_healthz_answers_without_login_and_names_no_one(
    app: Starlette, ctx: ConsoleContext
) -> None:
    reference = await open_case(ctx, sender="Jan Jansen <jan@example.nl>")
    async with anonymous(app) as client:
        response = await client.get("/healthz")
        head = await client.head("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status": "ok", "database": "ok", "loops": {}}
    assert "set-cookie" not in response.headers
    assert "jan@example.nl" not in response.text and reference not in response.text
    assert head.status_code == 200


async def test_healthz_is_503_with_the_reason_when_the_database_is_gone(
    no_database: ConsoleContext,
) -> None:
    async with anonymous(create_app(no_database)) as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["database"] == "unreachable"
    assert body["problems"] == ["database unreachable (ConnectionRefusedError)"]


async def test_healthz_reports_the_loops_a_reconnecting_watcher_is_still_healthy(
    ctx: ConsoleContext,
) -> None:
    stop = asyncio.Event()
    watcher = Watcher(ctx.settings.mailboxes[0])
    running = [
        asyncio.create_task(stop.wait(), name="imap-info"),
        asyncio.create_task(stop.wait(), name="outbox"),
    ]
    loops = Loops()
    loops.track(running, [watcher], stop)
    try:
        async with anonymous(create_app(ctx, loops)) as client:
            reconnecting = await client.get("/healthz")
            watcher.connected.set()
            connected = await client.get("/healthz")
    finally:
        stop.set()
        await asyncio.gather(*running)
    assert reconnecting.status_code == 200
    assert reconnecting.json()["loops"] == {"imap-info": "reconnecting", "outbox": "running"}
    assert connected.json()["loops"] == {"imap-info": "connected", "outbox": "running"}


async def test_healthz_is_503_when_a_loop_ended_while_the_bot_runs(ctx: ConsoleContext) -> None:
    async def ended() -> None:
        return None

    stop = asyncio.Event()
    sender = asyncio.create_task(ended(), name="outbox")
    await sender
    loops = Loops()
    loops.track([sender], [], stop)
    app = create_app(ctx, loops)
    async with anonymous(app) as client:
        broken = await client.get("/healthz")
        stop.set()  # while stopping, it is not a fault but still not ready
        stopping = await client.get("/healthz")
    assert broken.status_code == 503
    assert broken.json()["problems"] == ["outbox failed"]
    assert stopping.status_code == 503
    assert stopping.json()["loops"] == {"outbox": "stopped"}
    assert stopping.json()["problems"] == ["stopping"]


# --- /metrics: access ------------------------------------------------------------------------


async def test_metrics_answers_loopback_only_without_a_token(app: Starlette) -> None:
    async with client_from(app, "127.0.0.1") as local:
        assert (await local.get("/metrics")).status_code == 200
    async with client_from(app, "::1") as local6:
        assert (await local6.get("/metrics")).status_code == 200
    async with client_from(app, "203.0.113.7") as remote:
        refused = await remote.get("/metrics")
        bearer = await remote.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert refused.status_code == 403
    assert "dsr_bot" not in refused.text
    assert bearer.status_code == 403  # no token configured: no token opens it
    # Through a proxy on this host, the request may come from anywhere.
    async with client_from(app, "127.0.0.1", **{"X-Forwarded-For": "203.0.113.7"}) as proxied:
        assert (await proxied.get("/metrics")).status_code == 403


async def test_metrics_answers_others_with_the_bearer_token(ctx: ConsoleContext) -> None:
    app = create_app(with_token(ctx, "s3cret-metrics-token"))
    async with client_from(app, "203.0.113.7") as remote:
        missing = await remote.get("/metrics")
        wrong = await remote.get("/metrics", headers={"Authorization": "Bearer s3cret-nope"})
        right = await remote.get(
            "/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"}
        )
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert value(parse(right.text), "dsr_bot_database_up") == 1


async def test_metrics_and_healthz_pass_the_login_wall_but_pages_do_not(app: Starlette) -> None:
    async with client_from(app, "127.0.0.1", Accept="text/html") as client:
        assert (await client.get("/metrics")).status_code == 200
        assert (await client.get("/healthz")).status_code == 200
        page = await client.get("/dashboard")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")


# --- /metrics: figures -----------------------------------------------------------------------


async def test_metrics_show_cases_overdue_outbox_reminders_and_mailboxes(
    app: Starlette, ctx: ConsoleContext, clock: Clock
) -> None:
    officer = ACCOUNTS["privacy_officer"][0]
    references = [
        await open_case(ctx, kind=RequestKind.ERASURE, confident=False, sender="a <a@example.nl>"),
        await open_case(ctx, kind=RequestKind.OBJECTION, sender="c <c@example.nl>"),
        # Both deadlines passed (received two months ago)...
        await open_case(
            ctx,
            kind=RequestKind.COMPLAINT,
            sender="d <d@example.nl>",
            received_at=NOW - timedelta(days=60),
        ),
        # ...our promise passed (18 Nov), the legal deadline not yet (23 Nov)...
        await open_case(
            ctx,
            kind=RequestKind.COMPLAINT,
            sender="f <f@example.nl>",
            received_at=NOW - timedelta(days=30),
        ),
        # ...and a clock that stands still (waiting for an ID copy) is never late.
        await open_case(
            ctx,
            kind=RequestKind.ACCESS,
            sender="b <b@example.nl>",
            received_at=NOW - timedelta(days=60),
        ),
    ]
    closed = await open_case(
        ctx,
        kind=RequestKind.COMPLAINT,
        sender="e <e@example.nl>",
        received_at=NOW - timedelta(days=60),
    )
    async with ctx.sessions.begin() as db:
        await casework.close(db, closed, "withdrawn", casework.Actor(officer), clock())
        ids = list(await db.scalars(select(OutboxRow.id).order_by(OutboxRow.id)))
        assert len(ids) >= 5
        await db.execute(update(OutboxRow).where(OutboxRow.id.in_(ids[1:-2])).values(status="sent"))
        await db.execute(update(OutboxRow).where(OutboxRow.id == ids[0]).values(status="failed"))
        for row_id, hours in ((ids[-2], 1), (ids[-1], 2)):
            await db.execute(
                update(OutboxRow)
                .where(OutboxRow.id == row_id)
                .values(created_at=clock() - timedelta(hours=hours))
            )
        for n, kind in enumerate(["promise_near", "promise_near", "legal_overdue", "reminder"]):
            db.add(NoticeRow(key=f"test:{n}", case_id=None, kind=kind, created_at=clock()))
        stored_at = clock() - timedelta(minutes=5)
        db.add(MailboxStateRow(source="info", uidvalidity=1, last_uid=7, updated_at=stored_at))
        db.add(MailboxStateRow(source="gone", uidvalidity=1, last_uid=3, updated_at=stored_at))

    async with client_from(app, "127.0.0.1") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = parse(response.text)

    assert value(found, "dsr_bot_database_up") == 1
    assert value(found, "dsr_bot_cases", state="triage") == 1
    assert value(found, "dsr_bot_cases", state="open") == 4
    assert value(found, "dsr_bot_cases", state="closed") == 1
    assert value(found, "dsr_bot_cases_overdue", deadline="promise") == 2
    assert value(found, "dsr_bot_cases_overdue", deadline="legal") == 1
    assert value(found, "dsr_bot_outbox_pending", channel="email") == 2
    assert value(found, "dsr_bot_outbox_pending", channel="telegram") == 0
    assert value(found, "dsr_bot_outbox_failed", channel="email") == 1
    assert value(found, "dsr_bot_outbox_oldest_pending_seconds", channel="email") == 7200
    assert value(found, "dsr_bot_reminders_sent_total", kind="promise_near") == 2
    assert value(found, "dsr_bot_reminders_sent_total", kind="legal_overdue") == 1
    assert value(found, "dsr_bot_reminders_sent_total", kind="identity_reminder") == 1
    assert value(found, "dsr_bot_reminders_sent_total", kind="legal_near") == 0
    assert value(
        found, "dsr_bot_imap_last_stored_timestamp_seconds", mailbox="info"
    ) == pytest.approx(stored_at.timestamp())
    # Only configured mailboxes are shown; process metrics come along as usual.
    assert not any(labels == (("mailbox", "gone"),) for _, labels in found)
    assert any(name.startswith("process_") for name, _ in found)
    # No person, address or reference in any label or help text.
    for reference in [*references, closed]:
        assert reference not in response.text
    assert "@" not in response.text


async def test_metrics_show_the_watchers_of_this_process(ctx: ConsoleContext) -> None:
    stop = asyncio.Event()
    watcher = Watcher(ctx.settings.mailboxes[0])
    watcher.connected.set()
    task = asyncio.create_task(stop.wait(), name="imap-info")
    loops = Loops()
    loops.track([task], [watcher], stop)
    # Last known to have every message an hour ago.
    watcher.synced_at = loops.started_at - 3600
    try:
        async with client_from(create_app(ctx, loops), "127.0.0.1") as client:
            found = parse((await client.get("/metrics")).text)
    finally:
        stop.set()
        await task
    assert value(found, "dsr_bot_imap_connected", mailbox="info") == 1
    assert value(found, "dsr_bot_imap_lag_seconds", mailbox="info") >= 3600
    assert value(found, "dsr_bot_loop_up", loop="imap-info") == 1


async def test_metrics_still_answer_when_the_database_is_gone(
    no_database: ConsoleContext,
) -> None:
    async with client_from(create_app(no_database), "127.0.0.1") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    found = parse(response.text)
    assert value(found, "dsr_bot_database_up") == 0
    assert not any(name == "dsr_bot_cases" for name, _ in found)


async def test_each_app_has_its_own_registry(ctx: ConsoleContext) -> None:
    first, second = create_app(ctx), create_app(ctx)
    assert first.state.ops.metrics.registry is not second.state.ops.metrics.registry
    async with client_from(first, "127.0.0.1") as a, client_from(second, "127.0.0.1") as b:
        assert (await a.get("/metrics")).status_code == 200
        assert (await b.get("/metrics")).status_code == 200

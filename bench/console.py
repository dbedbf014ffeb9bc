"""The console's case list with 10,000 cases: GET /cases through the whole app, timed.

`python -m bench --only console` runs this phase alone (under a minute per database); `make
bench` runs it after the ID-copy check, before Dovecot starts. Per database (a new SQLite file,
a new PostgreSQL database): 10,000 cases are bulk-inserted with their checklists, six staff
accounts are added, one of them signs in through /login, and each list below is requested
REQUESTS times, one at a time, over httpx's ASGI transport against `create_app` (the auth
middleware's session lookup, the queries and the template included; no network). The clock is
fixed at NOW, the moment the cases were generated for. docs/benchmarks.md, section "Console".
"""

from __future__ import annotations

import json
import random
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dsr_bot.config import Settings
from dsr_bot.console.app import create_app
from dsr_bot.console.context import ConsoleContext
from dsr_bot.domain.deadlines import AMSTERDAM, Deadlines, compute_deadlines, receipt_date
from dsr_bot.identity import IdChecker
from dsr_bot.identity.vault import Vault
from dsr_bot.replies import Replies
from dsr_bot.services import staff as accounts
from dsr_bot.services.identity import IdentityDesk
from dsr_bot.store import migrate, queries
from dsr_bot.store.engine import create_engine
from dsr_bot.store.tables import CaseRow, TaskRow

RESULTS = Path(__file__).resolve().parent / "results" / "console.json"

P95_MAX_MS = 200.0  # the target; reported, never asserted
CASES = 10_000
REQUESTS = 200
WARM_UP = 5
CHUNK = 5_000
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=AMSTERDAM)
PASSWORD = "bench console password"
STAFF = [f"medewerker{n}@academiewerkendleren.nl" for n in range(1, 7)]
ME = STAFF[0]
# Kinds with the share of requests that ask for them (an education provider: mostly access).
KIND_WEIGHTS = {
    "access": 40,
    "erasure": 20,
    "objection": 15,
    "rectification": 8,
    "complaint": 7,
    "portability": 4,
    "restriction": 3,
    "other": 3,
}
ALWAYS, ON_DOUBT = {"access", "erasure", "rectification"}, {"portability", "restriction"}
DECISIONS = {"answered": 70, "erased": 15, "withdrawn": 10, "refused": 5}
# name, path: the default view, every open case, a filtered query, a page deep in the list
LISTS = [
    ("Case list, my tasks (default view)", "/cases"),
    ("Case list, all open cases", "/cases?view=all"),
    (
        "Case list, filtered (erasure, overdue, unassigned)",
        "/cases?view=all&kind=erasure&overdue=1&assignee=none",
    ),
    ("Case list, every case (closed too), page 100", "/cases?view=all&state=all&page=100"),
    ("Dashboard (for context)", "/dashboard"),
    # Session lookup, CSRF token and the page frame alone: what every page costs.
    ("Baseline: a signed-in 404 page (for context)", "/no-such-page"),
]
TOTAL_RE = re.compile(r"(\d+) zak(?:en|e)\b")

_DB_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


@dataclass
class ListTiming:
    name: str
    path: str
    requests: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    listed: int  # the total the page reports (cases matching), -1 where it shows none


@dataclass
class ConsoleRun:
    db: str
    cases: int
    open_cases: int
    tasks: int
    insert_s: float
    lists: list[ListTiming] = field(default_factory=list)


@dataclass
class ConsoleBench:
    cases: int
    runs: list[ConsoleRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _identity(rng: random.Random, kinds: list[str], *, closed: bool) -> str:
    if not kinds:
        return "undecided"
    if ALWAYS & set(kinds):
        if closed:
            return "verified"
        return rng.choices(["copy_requested", "copy_received", "verified"], [25, 10, 65])[0]
    if ON_DOUBT & set(kinds):
        return "confirmed" if closed or rng.random() < 0.7 else "code_sent"
    return "not_needed"


def case_rows(count: int, now: datetime, settings: Settings) -> list[dict[str, Any]]:
    """`count` cases in receipt order, deterministic (seeded).

    55% closed: received 45 to 400 days before `now`, closed 3 to 40 days after receipt (some
    after their deadline). The rest open, received over the last 60 days: 20% in triage (kinds
    not known yet), 70% of the others assigned to one of six staff members; a case that waits
    for an ID copy has its clock paused from receipt. 10% ask for two kinds; 5% of the cases
    older than three weeks had an extension sent.
    """
    rng = random.Random(2026)
    promise_weeks = settings.profiles["default"].promise_weeks
    holidays = settings.deadlines.holiday_dates
    cache: dict[date, Deadlines] = {}
    drafts = []
    for _ in range(count):
        closed = rng.random() < 0.55
        days = rng.uniform(45, 400) if closed else rng.uniform(0.001, 60)
        drafts.append((now - timedelta(days=days), closed))
    drafts.sort(key=lambda d: d[0])
    rows = []
    for n, (received, closed) in enumerate(drafts, start=1):
        received = received.astimezone(UTC)
        day = receipt_date(received)
        due = cache.get(day)
        if due is None:
            due = cache[day] = compute_deadlines(
                received, promise_weeks=promise_weeks, extra_holidays=holidays
            )
        triage = not closed and rng.random() < 0.2
        kinds = [] if triage else [_weighted(rng, KIND_WEIGHTS)]
        if kinds and rng.random() < 0.1:
            kinds = sorted({kinds[0], _weighted(rng, KIND_WEIGHTS)})
        identity = _identity(rng, kinds, closed=closed)
        extended = now - received > timedelta(days=21) and rng.random() < 0.05
        rows.append(
            {
                "id": None,
                "reference": f"AVG-{day.year}-{n:05d}",
                "profile": "default",
                "channel": "email",
                "source": "info",
                "requester": f"persoon{n}@example.nl",
                "requester_name": f"Persoon {n}",
                "language": "nl",
                "kinds": kinds,
                "scores": None,
                "confidence": None,
                "classified_by": None,
                "promise_due": due.promise,
                "legal_due": due.legal,
                "extended_due": due.legal_extended,
                "extension_sent_at": received + timedelta(days=20) if extended else None,
                "paused_days": 0,
                "paused_since": day if identity == "copy_requested" else None,
                "assignee": rng.choice(STAFF) if not triage and rng.random() < 0.7 else None,
                "decision": _weighted(rng, DECISIONS) if closed else None,
                "closed_at": received + timedelta(days=rng.uniform(3, 40)) if closed else None,
                "next_notice_on": None,
                "identity_policy": None,
                "identity_state": identity,
                "identity_requested_at": None,
                "state": "closed" if closed else ("triage" if triage else "open"),
                "subject": "Verzoek om inzage in mijn gegevens",
                "received_at": received,
                "created_at": received,
                "updated_at": received,
            }
        )
    return rows


def task_rows(cases: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Three checklist steps per case that is not in triage; a closed case's all done, an open
    case's a third done, 40% of the steps assigned to someone."""
    rng = random.Random(25)
    rows = []
    for case in cases:
        if case["state"] == "triage":
            continue
        kind = case["kinds"][0]
        for index, title in enumerate(("Zoek in het CRM", "Zoek in de leeromgeving", "Stel samen")):
            done = case["state"] == "closed" or rng.random() < 0.3
            rows.append(
                {
                    "id": None,
                    "case_id": case["id"],
                    "key": f"{kind}/{index}",
                    "kind": kind,
                    "position": index,
                    "title": title,
                    "assignee": rng.choice(STAFF) if rng.random() < 0.4 else None,
                    "done_at": now if done else None,
                    "done_by": None,
                    "created_at": case["received_at"],
                }
            )
    return rows


async def _insert(
    sessions: async_sessionmaker[AsyncSession],
    table: type[CaseRow] | type[TaskRow],
    rows: list[dict[str, Any]],
) -> None:
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        async with sessions.begin() as session:
            ids = await queries.allocate_ids(session, table, len(chunk))
            for row, pk in zip(chunk, ids, strict=True):
                row["id"] = pk
            await queries.insert_rows(session, table, chunk)


async def _analyze(kind: str, engine: AsyncEngine) -> None:
    """PostgreSQL: the statistics autovacuum would gather after a bulk write (not timed)."""
    if kind == "postgres":
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))


def _context(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> ConsoleContext:
    """The console as the bot builds it, with a bench secret (no key file is written)."""
    secret = "dsr-bot console bench: not a secret"
    replies = Replies()
    desk = IdentityDesk(
        settings=settings,
        replies=replies,
        vault=Vault(settings.identity.storage_dir, secret),
        checker=IdChecker(),
        secret=secret,
    )
    clock: Callable[[], datetime] = lambda: NOW.astimezone(UTC)  # noqa: E731
    return ConsoleContext(
        settings=settings,
        sessions=sessions,
        replies=replies,
        desk=desk,
        clock=clock,
        throttle_key=b"dsr-bot console bench",
    )


async def _sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, "the login page has a CSRF field"
    response = await client.post(
        "/login", data={"csrf": token[1], "email": ME, "password": PASSWORD, "next": "/cases"}
    )
    if response.status_code != 303:
        raise RuntimeError(f"console bench: login failed ({response.status_code})")


async def _time_list(client: httpx.AsyncClient, name: str, path: str, count: int) -> ListTiming:
    for _ in range(WARM_UP):
        await client.get(path)
    seconds = []
    body = ""
    for _ in range(count):
        t = time.perf_counter()
        response = await client.get(path)
        seconds.append(time.perf_counter() - t)
        if response.status_code != (404 if path == "/no-such-page" else 200):
            raise RuntimeError(f"console bench: GET {path} answered {response.status_code}")
        body = response.text
    total = TOTAL_RE.search(body)
    ms = sorted(s * 1000 for s in seconds)
    return ListTiming(
        name=name,
        path=path,
        requests=count,
        p50_ms=statistics.median(ms),
        p95_ms=statistics.quantiles(ms, n=20)[18],
        max_ms=ms[-1],
        listed=int(total[1]) if total and path.startswith("/cases") else -1,
    )


async def run_one(kind: str, url: str, workdir: Path, cases: int, requests: int) -> ConsoleRun:
    from tests.conftest import make_settings

    settings = make_settings(url, workdir)
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        rows = case_rows(cases, NOW, settings)
        t = time.perf_counter()
        await _insert(sessions, CaseRow, rows)
        tasks = task_rows(rows, NOW.astimezone(UTC))
        await _insert(sessions, TaskRow, tasks)
        insert_s = time.perf_counter() - t
        async with sessions.begin() as session:
            for email in STAFF:
                await accounts.add(session, email, "staff", PASSWORD, NOW, actor="bench")
        await _analyze(kind, engine)
        run = ConsoleRun(
            db=kind,
            cases=cases,
            open_cases=sum(1 for r in rows if r["state"] != "closed"),
            tasks=len(tasks),
            insert_s=insert_s,
        )
        app = create_app(_context(settings, sessions))
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://console.bench", headers={"Accept": "text/html"}
        ) as client:
            await _sign_in(client)
            for name, path in LISTS:
                run.lists.append(await _time_list(client, name, path, requests))
    finally:
        await engine.dispose()
    return run


async def measure(db: str = "both", cases: int = CASES, requests: int = REQUESTS) -> ConsoleBench:
    from bench.databases import each_database
    from bench.progress import say

    bench = ConsoleBench(cases=cases)
    async for kind, url, workdir in each_database(db, "console", bench.notes):
        say(f"console on {kind}: {cases:,} cases, {requests} requests per list")
        run = await run_one(kind, url, workdir, cases, requests)
        for timing in run.lists:
            say(f"  {kind}: {timing.path} p95 {timing.p95_ms:.1f} ms")
        bench.runs.append(run)
    return bench


def rows(b: ConsoleBench) -> list[str]:
    out = []
    for r in b.runs:
        name = _DB_NAMES[r.db]
        for t in r.lists:
            listed = f"{t.listed:,} cases match; " if t.listed >= 0 else ""
            figures = (
                f"p50 {t.p50_ms:.1f} ms, **p95 {t.p95_ms:.1f} ms**, max {t.max_ms:.1f} ms "
                f"({listed}{t.requests} requests)"
            )
            if t.path.startswith("/cases"):
                ok = "PASS" if t.p95_ms <= P95_MAX_MS else "MISS"
                target = f"p95 <= {P95_MAX_MS:.0f} ms"
            else:
                ok, target = "-", "reported"
            out.append(f"| {t.name}, {r.cases:,} cases, {name} | {figures} | {target} | {ok} |")
        out.append(
            f"| Console bench setup, {name}: bulk insert of {r.cases:,} cases "
            f"({r.open_cases:,} not closed) and {r.tasks:,} tasks | {r.insert_s:.2f} s | - | - |"
        )
    return out


def table(b: ConsoleBench) -> str:
    lines = ["| Measurement | Result | Target | Status |", "|---|---|---|---|", *rows(b)]
    lines += [f"- Note: {n}" for n in b.notes]
    return "\n".join(lines)


def write_json(b: ConsoleBench, path: Path = RESULTS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = asdict(b)
    data["targets"] = {"case_list_p95_max_ms": P95_MAX_MS}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path

"""The figures `/metrics` shows, in the Prometheus text format (prometheus-client).

Computed at scrape time: a few aggregate queries on the database (so every worker on one
database shows the same case figures) and what this process knows of its own IMAP watchers and
loops. Each console app has its own `CollectorRegistry`, never the library's global one.

Label values come from fixed sets (case states, channels, notice kinds) or from the settings
(mailbox names); anything else is counted as "other". No address, name or reference ever
becomes a label.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.domain.deadlines import legal_in_force
from dsr_bot.domain.reminders import NoticeKind
from dsr_bot.services.health import DB_TIMEOUT_SECONDS, Loops, WatcherState
from dsr_bot.services.overview import OPEN_STATES, STATES, OpenClock, summarise, today_of
from dsr_bot.store import queries
from dsr_bot.store.tables import CaseRow, MailboxStateRow, NoticeRow, OutboxRow

log = logging.getLogger(__name__)

CHANNELS = ("email", "telegram")
# Rows of the `notices` table: the deadline steps (domain/reminders.py), the daily digest, and
# the identity sweep's steps ("reminder", "lapse"), renamed so that they say what they are.
NOTICE_KINDS: Mapping[str, str] = {
    **{kind.value: kind.value for kind in NoticeKind},
    "digest": "digest",
    "reminder": "identity_reminder",
    "lapse": "identity_lapse",
}
OTHER = "other"
LIVE_STATES = frozenset({"running", "connected", "reconnecting", "standby"})


@dataclass(frozen=True, slots=True)
class DatabaseFigures:
    cases: dict[str, int]  # state -> cases
    overdue_promise: int
    overdue_legal: int
    pending: dict[str, int]  # channel -> outbox rows waiting to go
    failed: dict[str, int]  # channel -> outbox rows that failed for good
    oldest_pending_seconds: dict[str, float]  # channel -> age of its oldest waiting row
    reminders: dict[str, int]  # notice kind label -> notices issued
    mailbox_stored: dict[str, float]  # mailbox -> Unix time of its last stored batch


@dataclass(frozen=True, slots=True)
class Snapshot:
    database: DatabaseFigures | None  # None: the database did not answer
    loops: dict[str, str] = field(default_factory=dict)
    watchers: list[WatcherState] = field(default_factory=list)


def _label(value: object, known: Sequence[str]) -> str:
    text = str(value)
    return text if text in known else OTHER


async def database_figures(
    session: AsyncSession, *, now: datetime, mailboxes: Sequence[str]
) -> DatabaseFigures:
    """The case, outbox, reminder and mailbox figures at `now` (aggregates only)."""
    cases = dict.fromkeys(STATES, 0)
    for state, count in (await queries.case_counts_by_state(session)).items():
        label = _label(state, STATES)
        cases[label] = cases.get(label, 0) + count

    # Overdue as the dashboard counts it (services/overview.py): clock running, due date passed.
    clocks = (CaseRow.state, CaseRow.identity_state, CaseRow.promise_due, CaseRow.legal_due)
    paused = CaseRow.paused_since.is_not(None)
    extended = CaseRow.extension_sent_at.is_not(None)
    grouped = await session.execute(
        select(*clocks, CaseRow.extended_due, paused, extended, func.count())
        .where(CaseRow.state.in_(OPEN_STATES))
        .group_by(*clocks, CaseRow.extended_due, paused, extended)
    )
    figures = summarise(
        (
            OpenClock(
                state=state,
                identity_state=identity_state,
                paused=bool(is_paused),
                promise_due=promise_due,
                legal_due=legal_in_force(legal_due, extended_due, extended=bool(is_extended)),
                count=count,
            )
            for (
                state,
                identity_state,
                promise_due,
                legal_due,
                extended_due,
                is_paused,
                is_extended,
                count,
            ) in grouped
        ),
        (),
        today_of(now),
    )

    pending, failed = dict.fromkeys(CHANNELS, 0), dict.fromkeys(CHANNELS, 0)
    oldest: dict[str, float] = dict.fromkeys(CHANNELS, 0.0)
    outbox = await session.execute(
        select(OutboxRow.channel, OutboxRow.status, func.count(), func.min(OutboxRow.created_at))
        .where(OutboxRow.status.in_(("pending", "failed")))
        .group_by(OutboxRow.channel, OutboxRow.status)
    )
    for channel, status, count, first in outbox:
        label = _label(channel, CHANNELS)
        target = pending if status == "pending" else failed
        target[label] = target.get(label, 0) + count
        if status == "pending" and first is not None:
            age = max(0.0, (now - first).total_seconds())
            oldest[label] = max(oldest.get(label, 0.0), age)

    reminders = dict.fromkeys(NOTICE_KINDS.values(), 0)
    for kind, count in await session.execute(
        select(NoticeRow.kind, func.count()).group_by(NoticeRow.kind)
    ):
        label = NOTICE_KINDS.get(str(kind), OTHER)
        reminders[label] = reminders.get(label, 0) + count

    stored = await session.execute(
        select(MailboxStateRow.source, MailboxStateRow.updated_at).where(
            MailboxStateRow.source.in_(mailboxes)
        )
    )
    return DatabaseFigures(
        cases=cases,
        overdue_promise=figures.overdue_promise,
        overdue_legal=figures.overdue_legal,
        pending=pending,
        failed=failed,
        oldest_pending_seconds=oldest,
        reminders=reminders,
        mailbox_stored={str(source): at.timestamp() for source, at in stored},
    )


async def snapshot(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    loops: Loops,
    mailboxes: Sequence[str],
    wall: float | None = None,
) -> Snapshot:
    """Everything a scrape shows. `now` dates the cases (the console's clock); `wall` is the
    Unix time the watchers' sync times are compared with."""
    figures: DatabaseFigures | None = None
    try:
        async with asyncio.timeout(DB_TIMEOUT_SECONDS), sessions() as session:
            figures = await database_figures(session, now=now, mailboxes=mailboxes)
    except Exception as exc:  # the scrape still answers, with dsr_bot_database_up 0
        log.warning("metrics: database figures unavailable (%s)", type(exc).__name__)
    return Snapshot(
        database=figures,
        loops=loops.states(),
        watchers=loops.watcher_states(time.time() if wall is None else wall),
    )


class _SnapshotCollector:
    """Turns the snapshot of the scrape in hand into metric families."""

    def __init__(self) -> None:
        self.current: Snapshot | None = None

    def collect(self) -> Iterator[Metric]:
        snap = self.current
        if snap is None:
            return
        yield _gauge(
            "dsr_bot_database_up",
            "1 when the database answered this scrape's queries, else 0.",
            [((), 1.0 if snap.database is not None else 0.0)],
        )
        db = snap.database
        if db is not None:
            yield _gauge(
                "dsr_bot_cases",
                "Cases by state.",
                [((state,), count) for state, count in db.cases.items()],
                ("state",),
            )
            yield _gauge(
                "dsr_bot_cases_overdue",
                "Cases not closed whose deadline has passed with the clock running: our own "
                "promise, or the legal deadline in force.",
                [(("legal",), db.overdue_legal), (("promise",), db.overdue_promise)],
                ("deadline",),
            )
            yield _gauge(
                "dsr_bot_outbox_pending",
                "Outgoing messages waiting to be sent (outbox depth), by channel.",
                [((ch,), n) for ch, n in db.pending.items()],
                ("channel",),
            )
            yield _gauge(
                "dsr_bot_outbox_oldest_pending_seconds",
                "Age of the oldest outgoing message still waiting, by channel (0: none).",
                [((ch,), age) for ch, age in db.oldest_pending_seconds.items()],
                ("channel",),
            )
            yield _gauge(
                "dsr_bot_outbox_failed",
                "Outgoing messages that failed for good and wait for staff, by channel.",
                [((ch,), n) for ch, n in db.failed.items()],
                ("channel",),
            )
            reminders = CounterMetricFamily(
                "dsr_bot_reminders_sent",
                "Reminders and escalations issued, by kind (one per case and step, queued in the "
                "outbox with the notice). Counted from the database: the retention purge of old "
                "cases lowers it, which reads as a counter reset.",
                labels=("kind",),
            )
            for kind, count in db.reminders.items():
                reminders.add_metric((kind,), count)
            yield reminders
            yield _gauge(
                "dsr_bot_imap_last_stored_timestamp_seconds",
                "Unix time the last batch from each IMAP mailbox was stored (any worker).",
                [((box,), at) for box, at in db.mailbox_stored.items()],
                ("mailbox",),
            )
        yield _gauge(
            "dsr_bot_imap_connected",
            "1 while this process's watcher of the mailbox is logged in, else 0.",
            [((w.mailbox,), 1.0 if w.connected else 0.0) for w in snap.watchers],
            ("mailbox",),
        )
        yield _gauge(
            "dsr_bot_imap_lag_seconds",
            "Seconds since this process's watcher last knew it had every message of the "
            "mailbox (in IDLE: up to a second; polling: up to poll_seconds).",
            [((w.mailbox,), w.lag_seconds) for w in snap.watchers],
            ("mailbox",),
        )
        yield _gauge(
            "dsr_bot_loop_up",
            "1 while a loop of this process runs (an IMAP watcher also while it reconnects).",
            [((name,), 1.0 if state in LIVE_STATES else 0.0) for name, state in snap.loops.items()],
            ("loop",),
        )


def _gauge(
    name: str,
    documentation: str,
    samples: Sequence[tuple[Sequence[str], float]],
    labels: Sequence[str] = (),
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for values, value in samples:
        family.add_metric(values, value)
    return family


class Metrics:
    """One registry per console app: this bot's figures plus the process's own (memory, CPU,
    garbage collection, Python version), as the library's default registry would have them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._collector = _SnapshotCollector()
        self.registry.register(self._collector)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def render(self, snap: Snapshot) -> bytes:
        """The text exposition of `snap` (no await in between: one scrape at a time)."""
        self._collector.current = snap
        try:
            return generate_latest(self.registry)
        finally:
            self._collector.current = None

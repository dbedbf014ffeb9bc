"""What the console's lists and dashboard show: the case list with its filters, the outbox, the
open cases by state and the on-time rate per month.

The queries read only the columns a page shows. Everything that depends on the date (days left,
overdue, due this week, the months of the chart) is a pure function of `today`, the
Europe/Amsterdam calendar date of the caller's clock, so tests can move it.

The deadline rules are those of the register (`accountability.register_row`): the legal deadline
in force is the extended one once the extension notice went out; a case was on time when it was
closed (Amsterdam date) on or before it. "Overdue" means late on our own promise, which comes
first: not closed, clock running, today after `promise_due`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, String, and_, cast, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dsr_bot.domain.cases import RequestKind
from dsr_bot.domain.deadlines import AMSTERDAM, legal_in_force, on_time
from dsr_bot.domain.identity import WAITING
from dsr_bot.store.tables import CaseRow, OutboxRow, TaskRow

STATES = ("triage", "open", "closed")
OPEN_STATES = ("triage", "open")
STATE_CHOICES = ("", "triage", "open", "closed", "all")  # "": triage and open, the default
KINDS = tuple(kind.value for kind in RequestKind)
SOON_DAYS = 7  # "due this week", and the days-left wording turns amber
SUBJECT_CHARS = 80
MONTHS = 12


def today_of(now: datetime) -> date:
    """The Europe/Amsterdam calendar date of a moment: the day deadlines are counted in."""
    return now.astimezone(AMSTERDAM).date()


# --- deadline rules ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Countdown:
    """Calendar days from today to a due date, and how the list words it."""

    days: int | None  # None: no count (clock paused, case closed, no date)
    text: str
    css: str  # "late", "soon" or ""

    @property
    def late(self) -> bool:
        return self.days is not None and self.days < 0


def countdown(due: date | None, today: date, *, paused: bool, closed: bool) -> Countdown:
    if closed:
        return Countdown(None, "afgerond", "muted")
    if paused:
        return Countdown(None, "klok staat stil", "muted")
    if due is None:
        return Countdown(None, "geen termijn", "muted")
    days = (due - today).days
    if days < 0:
        late = -days
        return Countdown(days, f"{late} {'dag' if late == 1 else 'dagen'} te laat", "late")
    if days == 0:
        return Countdown(0, "vandaag", "soon")
    return Countdown(
        days, f"nog {days} {'dag' if days == 1 else 'dagen'}", "soon" if days <= SOON_DAYS else ""
    )


# --- the case list -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """The case list's view and filters, as read from the query string (unknown values are
    ignored: a hand-edited URL shows the default, not an error)."""

    mine: bool = True
    state: str = ""  # one of STATE_CHOICES
    kind: str = ""  # "" or one of KINDS
    assignee: str = ""  # "", "none" (unassigned) or a staff id
    overdue: bool = False
    page: int = 1

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> CaseFilter:
        state = params.get("state", "")
        kind = params.get("kind", "")
        assignee = params.get("assignee", "")
        page = params.get("page", "1")
        return cls(
            mine=params.get("view", "") != "all",
            state=state if state in STATE_CHOICES else "",
            kind=kind if kind in KINDS else "",
            assignee=assignee if assignee == "none" or assignee.isdigit() else "",
            overdue=params.get("overdue", "") == "1",
            page=max(1, int(page)) if page.isdigit() and len(page) < 7 else 1,
        )

    @property
    def states(self) -> tuple[str, ...]:
        if self.state == "all":
            return STATES
        return (self.state,) if self.state else OPEN_STATES

    @property
    def filtered(self) -> bool:
        """Anything chosen beyond the view: the empty list then says to clear the filters."""
        return bool(self.state or self.kind or self.assignee or self.overdue)

    def url(self, **changes: Any) -> str:
        """/cases with this view and these filters (only what differs from the default)."""
        f = replace(self, **changes)
        params = {
            "view": "" if f.mine else "all",
            "state": f.state,
            "kind": f.kind,
            "assignee": f.assignee,
            "overdue": "1" if f.overdue else "",
            "page": str(f.page) if f.page > 1 else "",
        }
        query = urlencode({k: v for k, v in params.items() if v})
        return f"/cases?{query}" if query else "/cases"


@dataclass(frozen=True, slots=True)
class CaseLine:
    reference: str
    received_at: datetime
    kinds: list[str]
    subject: str
    state: str
    identity_state: str
    assignee: str | None
    promise_due: date | None
    legal_due: date | None  # in force
    promise: Countdown
    legal: Countdown

    @property
    def overdue(self) -> bool:
        return self.promise.late

    @property
    def legal_late(self) -> bool:
        return self.legal.late


@dataclass(frozen=True, slots=True)
class CasePage:
    lines: list[CaseLine]
    total: int
    page: int
    pages: int
    page_size: int

    @property
    def first(self) -> int:
        return (self.page - 1) * self.page_size + 1 if self.total else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * self.page_size + len(self.lines)


def _shorten(text: str, limit: int = SUBJECT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _conditions(
    f: CaseFilter, *, me: str, today: date, assignee: str | None
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [CaseRow.state.in_(f.states)]
    if f.mine:
        my_tasks = select(TaskRow.case_id).where(TaskRow.assignee == me, TaskRow.done_at.is_(None))
        where.append(or_(CaseRow.assignee == me, CaseRow.id.in_(my_tasks)))
    if f.kind:
        # kinds is a JSON list; as text it holds the quoted value on SQLite and PostgreSQL alike.
        where.append(cast(CaseRow.kinds, String).like(f'%"{f.kind}"%'))
    if f.assignee == "none":
        where.append(CaseRow.assignee.is_(None))
    elif f.assignee:
        where.append(CaseRow.assignee == assignee if assignee else false())
    if f.overdue:
        where.append(
            and_(
                CaseRow.state != "closed",
                CaseRow.paused_since.is_(None),
                CaseRow.promise_due < today,
            )
        )
    return where


async def case_page(
    session: AsyncSession,
    f: CaseFilter,
    *,
    me: str,
    today: date,
    page_size: int,
    staff_emails: Mapping[int, str],
) -> CasePage:
    """One page of the case list, nearest promise first (no date last), with the total.

    `me` is the signed-in staff member's e-mail address ("my tasks"); `staff_emails` maps staff
    ids to addresses for the assignee filter (an unknown id matches nothing)."""
    assignee = staff_emails.get(int(f.assignee)) if f.assignee.isdigit() else None
    where = _conditions(f, me=me, today=today, assignee=assignee)
    total = int(await session.scalar(select(func.count()).select_from(CaseRow).where(*where)) or 0)
    pages = max(1, -(-total // page_size))
    page = min(f.page, pages)
    rows = await session.execute(
        select(
            CaseRow.reference,
            CaseRow.received_at,
            CaseRow.kinds,
            func.substr(CaseRow.subject, 1, SUBJECT_CHARS + 1),
            CaseRow.state,
            CaseRow.identity_state,
            CaseRow.assignee,
            CaseRow.promise_due,
            CaseRow.legal_due,
            CaseRow.extended_due,
            CaseRow.extension_sent_at,
            CaseRow.paused_since,
        )
        .where(*where)
        .order_by(CaseRow.promise_due.asc().nulls_last(), CaseRow.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    lines = []
    for (
        reference,
        received_at,
        kinds,
        subject,
        state,
        identity_state,
        assigned,
        promise_due,
        legal_due,
        extended_due,
        extension_sent_at,
        paused_since,
    ) in rows:
        in_force = legal_in_force(legal_due, extended_due, extended=extension_sent_at is not None)
        paused, closed = paused_since is not None, state == "closed"
        lines.append(
            CaseLine(
                reference=reference,
                received_at=received_at,
                kinds=[str(k) for k in kinds or ()],
                subject=_shorten(str(subject or "")),
                state=state,
                identity_state=identity_state,
                assignee=assigned,
                promise_due=promise_due,
                legal_due=in_force,
                promise=countdown(promise_due, today, paused=paused, closed=closed),
                legal=countdown(in_force, today, paused=paused, closed=closed),
            )
        )
    return CasePage(lines=lines, total=total, page=page, pages=pages, page_size=page_size)


# --- the outbox ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxLine:
    id: int
    created_at: datetime
    reference: str | None
    kind: str
    recipient: str
    subject: str
    status: str
    attempts: int
    sent_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class OutboxPage:
    lines: list[OutboxLine]
    total: int
    page: int
    pages: int


async def outbox_page(session: AsyncSession, *, page: int, page_size: int) -> OutboxPage:
    """Outgoing messages, newest first; no bodies."""
    total = int(await session.scalar(select(func.count()).select_from(OutboxRow)) or 0)
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    rows = await session.execute(
        select(
            OutboxRow.id,
            OutboxRow.created_at,
            CaseRow.reference,
            OutboxRow.kind,
            OutboxRow.recipient,
            func.substr(OutboxRow.subject, 1, SUBJECT_CHARS + 1),
            OutboxRow.status,
            OutboxRow.attempts,
            OutboxRow.sent_at,
            func.substr(OutboxRow.last_error, 1, 201),
        )
        .outerjoin(CaseRow, CaseRow.id == OutboxRow.case_id)
        .order_by(OutboxRow.created_at.desc(), OutboxRow.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    lines = [
        OutboxLine(
            id=row_id,
            created_at=created_at,
            reference=reference,
            kind=kind,
            recipient=recipient,
            subject=_shorten(str(subject or "")),
            status=status,
            attempts=attempts,
            sent_at=sent_at,
            last_error=_shorten(error, 200) if error else None,
        )
        for (
            row_id,
            created_at,
            reference,
            kind,
            recipient,
            subject,
            status,
            attempts,
            sent_at,
            error,
        ) in rows
    ]
    return OutboxPage(lines=lines, total=total, page=page, pages=pages)


# --- the dashboard -------------------------------------------------------------------------------

BUCKETS = ("triage", "open", "paused", "identity")  # the dashboard's open cases by state


@dataclass(frozen=True, slots=True)
class OpenClock:
    """What the dashboard needs of a case that is not closed; `count` cases alike."""

    state: str
    identity_state: str
    paused: bool
    promise_due: date | None
    legal_due: date | None  # in force
    count: int = 1


def bucket(case: OpenClock) -> str:
    """Each open case counts once: triage first, then waiting for the person's identity (its
    clock stands still too), then a clock paused for another reason, else plain open."""
    if case.state == "triage":
        return "triage"
    if case.identity_state in WAITING:
        return "identity"
    if case.paused:
        return "paused"
    return "open"


@dataclass(frozen=True, slots=True)
class MonthRate:
    month: date  # the first of the month
    on_time: int
    late: int

    @property
    def closed(self) -> int:
        return self.on_time + self.late

    @property
    def rate(self) -> float | None:
        return self.on_time / self.closed if self.closed else None

    @property
    def percent(self) -> int | None:
        rate = self.rate
        return None if rate is None else round(rate * 100)


@dataclass(frozen=True, slots=True)
class Dashboard:
    today: date
    by_state: dict[str, int]  # BUCKETS, in that order
    due_this_week: int  # promise or legal deadline in force within today..today+7
    overdue_promise: int
    overdue_legal: int
    months: list[MonthRate] = field(default_factory=list)

    @property
    def open_total(self) -> int:
        return sum(self.by_state.values())


def month_starts(today: date, count: int = MONTHS) -> list[date]:
    """The first day of this month and the count - 1 before it, oldest first."""
    out = []
    year, month = today.year, today.month
    for _ in range(count):
        out.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def summarise(
    open_cases: Iterable[OpenClock],
    closed: Iterable[tuple[datetime, date | None]],
    today: date,
) -> Dashboard:
    """The dashboard's figures. `closed`: (closed_at, legal deadline in force) of closed cases;
    those closed outside the last MONTHS months, or without a deadline, are not counted."""
    by_state = dict.fromkeys(BUCKETS, 0)
    week = today + timedelta(days=SOON_DAYS)
    due_week = late_promise = late_legal = 0
    for case in open_cases:
        by_state[bucket(case)] += case.count
        if case.paused:
            continue  # a clock that stands still is neither due nor late
        dues = [d for d in (case.promise_due, case.legal_due) if d is not None]
        if any(today <= d <= week for d in dues):
            due_week += case.count
        if case.promise_due is not None and case.promise_due < today:
            late_promise += case.count
        if case.legal_due is not None and case.legal_due < today:
            late_legal += case.count
    starts = month_starts(today)
    tally = {start: [0, 0] for start in starts}  # month -> [on time, late]
    for closed_at, in_force in closed:
        closed_on = today_of(closed_at)
        answer = on_time(closed_on, in_force)
        counts = tally.get(closed_on.replace(day=1))
        if answer is not None and counts is not None:
            counts[0 if answer else 1] += 1
    return Dashboard(
        today=today,
        by_state=by_state,
        due_this_week=due_week,
        overdue_promise=late_promise,
        overdue_legal=late_legal,
        months=[MonthRate(start, *tally[start]) for start in starts],
    )


async def dashboard(session: AsyncSession, *, today: date) -> Dashboard:
    """The figures for `today`. Open cases are read grouped by what the figures depend on (many
    share their due dates), closed ones as (closed_at, deadline columns) of the months shown."""
    paused = CaseRow.paused_since.is_not(None)
    extended = CaseRow.extension_sent_at.is_not(None)
    clocks = (
        CaseRow.state,
        CaseRow.identity_state,
        CaseRow.promise_due,
        CaseRow.legal_due,
        CaseRow.extended_due,
    )
    opened = await session.execute(
        select(*clocks, paused.label("paused"), extended.label("extended"), func.count())
        .where(CaseRow.state.in_(OPEN_STATES))
        .group_by(*clocks, paused, extended)
    )
    open_cases = [
        OpenClock(
            state=row.state,
            identity_state=row.identity_state,
            paused=bool(row.paused),
            promise_due=row.promise_due,
            legal_due=legal_in_force(row.legal_due, row.extended_due, extended=bool(row.extended)),
            count=row[-1],
        )
        for row in opened
    ]
    since = datetime.combine(month_starts(today)[0], time(), AMSTERDAM)
    closed = await session.execute(
        select(CaseRow.closed_at, CaseRow.legal_due, CaseRow.extended_due, extended).where(
            CaseRow.state == "closed", CaseRow.closed_at >= since
        )
    )
    return summarise(
        open_cases,
        (
            (closed_at, legal_in_force(legal_due, extended_due, extended=bool(is_extended)))
            for closed_at, legal_due, extended_due, is_extended in closed
            if closed_at is not None
        ),
        today,
    )


# --- the chart -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    month: MonthRate
    x: float
    y: float  # top of the bar
    width: float
    height: float
    label_x: float  # the centre, for the text above and below


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    top: float  # y of 100%
    base: float  # y of 0%
    left: float
    bars: list[Bar]

    def y_of(self, percent: int) -> float:
        return self.base - (self.base - self.top) * percent / 100


def rate_chart(months: Sequence[MonthRate], *, width: int = 640, height: int = 230) -> Chart:
    """Where the bars of the on-time chart go (an SVG viewBox of width x height): one bar per
    month, its height the share closed on time; a month without closed cases has no bar."""
    left, right, top, bottom = 44.0, 8.0, 22.0, 34.0
    base = height - bottom
    slot = (width - left - right) / max(1, len(months))
    bar_width = slot * 0.6
    bars = []
    for n, month in enumerate(months):
        x = left + n * slot + (slot - bar_width) / 2
        bar_height = (base - top) * (month.rate or 0.0)
        bars.append(
            Bar(
                month=month,
                x=round(x, 1),
                y=round(base - bar_height, 1),
                width=round(bar_width, 1),
                height=round(bar_height, 1),
                label_x=round(x + bar_width / 2, 1),
            )
        )
    return Chart(width=width, height=height, top=top, base=base, left=left, bars=bars)

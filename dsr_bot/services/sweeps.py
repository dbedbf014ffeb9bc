"""The deadline sweep: reminders, escalations and the daily digest, each recorded once.

What is due is derived from the database on every run (domain/reminders.py decides, the notices
table remembers), so a restart neither repeats nor loses a notice, and a bot that was down sends
what it missed. With several processes on one PostgreSQL, a transaction-level advisory lock lets
one sweep at a time; the unique notice keys would stop a duplicate even without it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.config import Settings
from dsr_bot.domain.cases import EventKind
from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.domain.outgoing import new_message_id
from dsr_bot.domain.reminders import (
    CaseClock,
    Notice,
    NoticeKind,
    due_notices,
    next_check,
    working_days_between,
)
from dsr_bot.replies import Replies
from dsr_bot.services.staff_chat import StaffChat
from dsr_bot.store import queries
from dsr_bot.store.tables import CaseEventRow, CaseRow, NoticeRow, OutboxRow

log = logging.getLogger(__name__)

DIGEST_LINES = 100  # per list; the digest says how many more there are
NEVER = date(9999, 12, 31)  # next_notice_on of a case that owes no more notices until it changes
SWEEP_LOCK = 0x64737262  # "dsrb": the advisory lock key shared by every dsr-bot process
_ESCALATIONS = (NoticeKind.PROMISE_OVERDUE, NoticeKind.LEGAL_OVERDUE, NoticeKind.EXTENSION_PROMPT)


def utcnow() -> datetime:
    return datetime.now(AMSTERDAM)


@dataclass
class SweepResult:
    ran: bool = True  # False: another process holds the sweep lock
    cases: int = 0  # open cases near a deadline that were looked at
    sent: list[str] = field(default_factory=list)  # notice keys queued this run


class Sweeper:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        replies: Replies,
        on_outbox: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._replies = replies
        self._on_outbox = on_outbox
        self._clock = clock
        self._domain = settings.mail.from_address.split("@", 1)[1]
        # The stored check days follow from the settings (offsets, holidays): the first sweep of
        # a process looks at every open case again, in case those changed.
        self._recheck_all = True

    async def sweep(self) -> SweepResult:
        now = self._clock()
        today = now.astimezone(AMSTERDAM).date()
        async with self._sessions.begin() as session:
            if not await _sweep_lock(session):
                log.info("deadline sweep skipped: another process is sweeping")
                return SweepResult(ran=False)
            if self._recheck_all:
                await session.execute(
                    update(CaseRow)
                    .where(CaseRow.state != "closed")
                    .values(next_notice_on=None)
                    .execution_options(synchronize_session=False)
                )
            cases = await _cases_to_check(session, today)
            plan = _Planner(
                today, self._settings.staff.reminder_offsets, self._settings.deadlines.holiday_dates
            )
            notices = [(case, notice) for case in cases for notice in plan.notices(case)]
            known = await _known_keys_of_cases(session, [case.id for case in cases])
            result = SweepResult(cases=len(cases))
            batch = _Batch()
            for case, notice in notices:
                if notice.key not in known:
                    self._plan(batch, case, notice, now)
                    known.add(notice.key)
                    result.sent.append(notice.key)
            if await self._digest(session, batch, now, today, known):
                result.sent.append(f"digest:{today.isoformat()}")
            batch.outbox += StaffChat(self._settings, self._replies).notices(batch.chat, now)
            await batch.write(session)
            await _set_next_checks(
                session, [(case.id, plan.next_check(case) or NEVER) for case in cases]
            )
        self._recheck_all = False
        if result.sent:
            log.info("deadline sweep: %d notice(s) queued", len(result.sent))
            self._on_outbox()
        return result

    def _plan(self, batch: _Batch, case: _Case, notice: Notice, now: datetime) -> None:
        """The mail, the notice record and the log entry for one notice, written in bulk later:
        after an outage the first sweep may owe thousands."""
        escalation = notice.kind in _ESCALATIONS
        context: dict[str, Any] = {
            "reference": case.reference,
            "kinds": list(case.kinds),
            "kind": notice.kind.value,
            "deadline": notice.deadline,
            "working_days_left": notice.working_days_left,
        }
        if escalation:
            context["extension_possible"] = case.extension_sent_at is None and (
                notice.kind is NoticeKind.EXTENSION_PROMPT
            )
            context["extended_due"] = case.extended_due
        template = "staff_escalation" if escalation else "staff_reminder"
        rendered = self._replies.render(template, "nl", **context)
        recipients = _recipients(case.assignee, self._settings.staff.privacy_officer)
        batch.outbox += self._mail(case.id, case.reference, template, recipients, rendered, now)
        batch.chat.append(
            {
                "reference": case.reference,
                "kind": notice.kind.value,
                "deadline": notice.deadline,
                "working_days_left": notice.working_days_left,
            }
        )
        batch.notices.append(
            {"key": notice.key, "case_id": case.id, "kind": notice.kind.value, "created_at": now}
        )
        event = EventKind.ESCALATED if escalation else EventKind.REMINDER_SENT
        batch.events.append(
            {
                "case_id": case.id,
                "at": now,
                "actor": "system",
                "kind": event.value,
                "detail": {
                    "notice": notice.kind.value,
                    "deadline": notice.deadline.isoformat(),
                    "working_days_left": notice.working_days_left,
                    "to": recipients,
                },
            }
        )

    async def _digest(
        self,
        session: AsyncSession,
        batch: _Batch,
        now: datetime,
        today: date,
        known: set[str],
    ) -> bool:
        """Once a day, from the digest time on (a bot that starts later still sends it)."""
        if not self._settings.staff.daily_digest:
            return False
        key = f"digest:{today.isoformat()}"
        hour, minute = map(int, self._settings.staff.digest_time.split(":"))
        if now.astimezone(AMSTERDAM).time() < time(hour, minute) or key in known:
            return False
        if await _known_keys(session, [key]):
            return False
        counts = await queries.case_counts_by_state(session)
        offsets = self._settings.staff.reminder_offsets
        extra = self._settings.deadlines.holiday_dates
        soon_until = today + timedelta(days=max(offsets) * 2 + 4)  # covers the working days
        lefts: dict[date, int] = {}
        rows: list[dict[str, Any]] = []
        for case in await _cases_due_by(session, soon_until):
            clock = _clock_of(case)
            for which, deadline in (("belofte", clock.promise_due), ("wettelijk", clock.legal_due)):
                if deadline not in lefts:
                    lefts[deadline] = working_days_between(today, deadline, extra)
                left = lefts[deadline]
                if left <= max(offsets):
                    rows.append(
                        {
                            "reference": case.reference,
                            "kinds": list(case.kinds),
                            "deadline": deadline,
                            "which": which,
                            "working_days_left": left,
                        }
                    )
        rows.sort(key=lambda r: (r["deadline"], r["reference"]))
        soon = [r for r in rows if int(r["working_days_left"]) >= 0]
        late = [r for r in rows if int(r["working_days_left"]) < 0]
        rendered = self._replies.render(
            "staff_digest",
            "nl",
            today=today,
            open_count=counts.get("open", 0) + counts.get("triage", 0),
            triage_count=counts.get("triage", 0),
            due_soon=soon[:DIGEST_LINES],
            overdue=late[:DIGEST_LINES],
            due_soon_total=len(soon),
            overdue_total=len(late),
        )
        officer = [self._settings.staff.privacy_officer]
        batch.outbox += self._mail(None, "digest", "staff_digest", officer, rendered, now)
        batch.notices.append({"key": key, "case_id": None, "kind": "digest", "created_at": now})
        known.add(key)
        return True

    def _mail(
        self,
        case_id: int | None,
        reference: str,
        kind: str,
        recipients: Sequence[str],
        rendered: Any,
        now: datetime,
    ) -> list[dict[str, Any]]:
        return [
            queries.outbox_row(
                case_id=case_id,
                kind=kind,
                channel="email",
                source="staff",
                recipient=recipient,
                sender=self._settings.mail.from_address,
                sender_name="dsr-bot",
                subject=rendered.subject,
                body=rendered.body,
                language="nl",
                message_id=new_message_id(reference, self._domain),
                now=now,
                auto_submitted="auto-generated",
            )
            for recipient in recipients
        ]


@dataclass
class _Batch:
    outbox: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    chat: list[dict[str, Any]] = field(default_factory=list)  # for the staff chat
    events: list[dict[str, Any]] = field(default_factory=list)

    async def write(self, session: AsyncSession) -> None:
        ids = await queries.allocate_ids(session, OutboxRow, len(self.outbox))
        for row, pk in zip(self.outbox, ids, strict=True):
            row["id"] = pk
        for rows, table in (
            (self.outbox, OutboxRow),
            (self.notices, NoticeRow),
            (self.events, CaseEventRow),
        ):
            for start in range(0, len(rows), 1000):
                await queries.insert_rows(session, table, rows[start : start + 1000])


def _recipients(assignee: str | None, officer: str) -> list[str]:
    return [assignee, officer] if assignee and assignee != officer else [officer]


@dataclass(frozen=True, slots=True)
class _Case:
    """The columns a sweep needs, without the cost of an ORM object per case."""

    id: int
    reference: str
    kinds: list[str]
    promise_due: date | None
    legal_due: date | None
    extended_due: date | None
    extension_sent_at: datetime | None
    paused_since: date | None
    assignee: str | None


_CASE_COLUMNS = (
    CaseRow.id,
    CaseRow.reference,
    CaseRow.kinds,
    CaseRow.promise_due,
    CaseRow.legal_due,
    CaseRow.extended_due,
    CaseRow.extension_sent_at,
    CaseRow.paused_since,
    CaseRow.assignee,
)


async def _cases(session: AsyncSession, *where: Any) -> list[_Case]:
    rows = await session.execute(select(*_CASE_COLUMNS).where(*where).order_by(CaseRow.id))
    return [_Case(*row) for row in rows]


class _Planner:
    """due_notices and next_check per case, computed once per distinct clock: thousands of cases
    share a receipt date, so a sweep over many does the date arithmetic a few hundred times."""

    def __init__(self, today: date, offsets: Sequence[int], extra: Sequence[date]) -> None:
        self._today, self._offsets, self._extra = today, offsets, extra
        self._notices: dict[tuple[object, ...], list[Notice]] = {}
        self._next: dict[tuple[object, ...], date | None] = {}

    @staticmethod
    def _key(clock: CaseClock) -> tuple[object, ...]:
        return (clock.promise_due, clock.legal_due, clock.extended, clock.paused)

    def notices(self, case: _Case) -> list[Notice]:
        clock = _clock_of(case)
        key = self._key(clock)
        found = self._notices.get(key)
        if found is None:
            anonymous = dataclasses.replace(clock, reference="")
            found = self._notices[key] = due_notices(
                anonymous, self._today, offsets=self._offsets, extra_holidays=self._extra
            )
        return [dataclasses.replace(n, reference=case.reference) for n in found]

    def next_check(self, case: _Case) -> date | None:
        clock = _clock_of(case)
        key = self._key(clock)
        if key not in self._next:
            self._next[key] = next_check(
                clock, self._today, offsets=self._offsets, extra_holidays=self._extra
            )
        return self._next[key]


def _clock_of(case: _Case) -> CaseClock:
    assert case.promise_due is not None and case.legal_due is not None  # noqa: S101 - type narrowing only
    extended = case.extension_sent_at is not None and case.extended_due is not None
    return CaseClock(
        reference=case.reference,
        promise_due=case.promise_due,
        legal_due=case.extended_due if extended and case.extended_due else case.legal_due,
        extended=extended,
        paused=case.paused_since is not None,
    )


async def _sweep_lock(session: AsyncSession) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: one writer at a time anyway (BEGIN IMMEDIATE)
    got = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SWEEP_LOCK})
    return bool(got)


async def _cases_to_check(session: AsyncSession, today: date) -> list[_Case]:
    """Open cases whose next check day has come (or that were never checked, or changed)."""
    return await _cases(
        session,
        CaseRow.state != "closed",
        CaseRow.promise_due.is_not(None),
        CaseRow.next_notice_on.is_(None) | (CaseRow.next_notice_on <= today),
    )


async def _cases_due_by(session: AsyncSession, day: date) -> list[_Case]:
    return await _cases(
        session,
        CaseRow.state != "closed",
        CaseRow.paused_since.is_(None),
        (CaseRow.promise_due <= day)
        | (CaseRow.legal_due <= day)
        | (CaseRow.extension_sent_at.is_not(None) & (CaseRow.extended_due <= day)),
    )


async def _set_next_checks(session: AsyncSession, rows: Sequence[tuple[int, date | None]]) -> None:
    """One UPDATE per distinct day (a few hundred), not one per case."""
    by_day: dict[date | None, list[int]] = {}
    for case_id, day in rows:
        by_day.setdefault(day, []).append(case_id)
    for day, ids in by_day.items():
        for start in range(0, len(ids), 5000):
            await session.execute(
                update(CaseRow)
                .where(CaseRow.id.in_(ids[start : start + 5000]))
                .values(next_notice_on=day)
                .execution_options(synchronize_session=False)
            )


async def _known_keys_of_cases(session: AsyncSession, case_ids: Sequence[int]) -> set[str]:
    """The notices already recorded for these cases. By case id, not by key: PostgreSQL checks
    a long list of strings row by row when it does not use the index (a 90 s sweep)."""
    found: set[str] = set()
    for start in range(0, len(case_ids), 1000):
        chunk = case_ids[start : start + 1000]
        found |= set(
            await session.scalars(select(NoticeRow.key).where(NoticeRow.case_id.in_(chunk)))
        )
    return found


async def _known_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        found |= set(await session.scalars(select(NoticeRow.key).where(NoticeRow.key.in_(chunk))))
    return found

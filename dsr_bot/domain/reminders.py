"""Which reminders and escalations a case is due for today (legal.md section 1; issue 4).

Pure: the sweep loads the facts of each open case and asks `due_notices`; every notice has a key,
and the store records each key once, so a notice is never sent twice and a restart loses none.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from dsr_bot.domain.calendar_nl import is_working_day

DEFAULT_OFFSETS = (7, 3, 1)  # working days before a deadline
EXTENSION_PROMPT_DAYS = 5  # working days before the legal deadline


class NoticeKind(enum.StrEnum):
    PROMISE_NEAR = "promise_near"  # reminder: our own promise is near
    LEGAL_NEAR = "legal_near"  # reminder: the legal deadline is near
    PROMISE_OVERDUE = "promise_overdue"  # escalation to the privacy officer
    EXTENSION_PROMPT = "extension_prompt"  # send an extension or an Art. 12(4) notice
    LEGAL_OVERDUE = "legal_overdue"  # escalation: the legal deadline has passed


@dataclass(frozen=True, slots=True)
class CaseClock:
    """What the sweep needs to know about one open case."""

    reference: str
    promise_due: date
    legal_due: date  # the deadline in force: the extended one once an extension was sent
    extended: bool
    paused: bool  # waiting for identity: the clock stands still, nothing is due


@dataclass(frozen=True, slots=True)
class Notice:
    reference: str
    kind: NoticeKind
    deadline: date
    working_days_left: int  # 0 on the day itself; negative when overdue
    step: int = 0  # for reminders: the offset reached (7, 3 or 1 working days)

    @property
    def key(self) -> str:
        """One per case, kind, deadline and reminder step: recorded once, sent once."""
        return f"{self.kind.value}:{self.reference}:{self.deadline.isoformat()}:{self.step}"


def working_days_between(start: date, end: date, extra: Iterable[date] = ()) -> int:
    """Working days after `start` up to and including `end`; negative when `end` is earlier."""
    extra = frozenset(extra)
    if end < start:
        return -working_days_between(end, start, extra)
    days = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        days += is_working_day(day, extra)
    return days


def working_days_before(deadline: date, count: int, extra: Iterable[date] = ()) -> date:
    """The working day `count` working days before `deadline`."""
    extra = frozenset(extra)
    day = deadline
    while count > 0:
        day -= timedelta(days=1)
        count -= is_working_day(day, extra)
    return day


def due_notices(
    case: CaseClock,
    today: date,
    *,
    offsets: Sequence[int] = DEFAULT_OFFSETS,
    extra_holidays: Iterable[date] = (),
) -> list[Notice]:
    """The notices this case is due for on `today`, before removing those already sent.

    For each deadline only the nearest reminder step that has been reached is returned, so a bot
    that was down for a week sends one reminder, not a burst of stale ones.
    """
    if case.paused:
        return []
    extra = frozenset(extra_holidays)
    out = []
    for kind, deadline in (
        (NoticeKind.PROMISE_NEAR, case.promise_due),
        (NoticeKind.LEGAL_NEAR, case.legal_due),
    ):
        left = working_days_between(today, deadline, extra)
        reached = [n for n in offsets if 0 <= left <= n]
        if reached:
            out.append(Notice(case.reference, kind, deadline, left, step=min(reached)))
    if today > case.promise_due:
        left = working_days_between(today, case.promise_due, extra)
        out.append(Notice(case.reference, NoticeKind.PROMISE_OVERDUE, case.promise_due, left))
    if today > case.legal_due:
        left = working_days_between(today, case.legal_due, extra)
        out.append(Notice(case.reference, NoticeKind.LEGAL_OVERDUE, case.legal_due, left))
    elif not case.extended:
        prompt_on = working_days_before(case.legal_due, EXTENSION_PROMPT_DAYS, extra)
        if today >= prompt_on:
            left = working_days_between(today, case.legal_due, extra)
            out.append(Notice(case.reference, NoticeKind.EXTENSION_PROMPT, case.legal_due, left))
    return out


def next_check(
    case: CaseClock,
    today: date,
    *,
    offsets: Sequence[int] = DEFAULT_OFFSETS,
    extra_holidays: Iterable[date] = (),
) -> date | None:
    """The first day after `today` on which this case can owe a new notice; None when it never
    will (paused cases wait for their resume, which asks again). The sweep looks only at cases
    whose day has come, so a quiet sweep over 100,000 cases reads almost nothing."""
    if case.paused:
        return None
    extra = frozenset(extra_holidays)
    days = []
    for deadline in (case.promise_due, case.legal_due):
        days += [working_days_before(deadline, n, extra) for n in offsets]
        days.append(deadline + timedelta(days=1))  # the first day it is overdue
    if not case.extended:
        days.append(working_days_before(case.legal_due, EXTENSION_PROMPT_DAYS, extra))
    later = [day for day in days if day > today]
    return min(later) if later else None

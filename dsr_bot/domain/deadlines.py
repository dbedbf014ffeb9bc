"""Answer deadlines for a data-subject request (legal.md section 1).

GDPR art. 12(3)-(4): one month from receipt, extendable by two further months. Periods are
counted per Regulation 1182/71 art. 3 as read by the EDPB (Guidelines 01/2022): the day of receipt
is not counted, a month ends on the same date (or the last day of a shorter month), and an end on a
Saturday, Sunday or public holiday moves to the next working day.
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dsr_bot.domain.calendar_nl import next_working_day_on_or_after

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def receipt_date(received_at: datetime) -> date:
    """The calendar date of receipt in Europe/Amsterdam, not UTC (legal.md section 1)."""
    if received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    if received_at.fold:  # the repeated hour: equal, within its zone, to a different instant
        return received_at.astimezone(AMSTERDAM).date()
    return _amsterdam_date(received_at)


@functools.lru_cache(maxsize=1024)
def _amsterdam_date(received_at: datetime) -> date:
    # Cached: intake asks up to three times per message, and a batch's messages often share
    # their INTERNALDATE second. Equal aware datetimes are the same instant, so the same date.
    return received_at.astimezone(AMSTERDAM).date()


def add_months(day: date, months: int) -> date:
    """The same date `months` later, or the last day of the target month if that date is missing."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


@dataclass(frozen=True, slots=True)
class Deadlines:
    received_on: date
    promise: date  # the organisation's own "within four weeks"
    legal: date  # art. 12(3): one month
    legal_extended: (
        date  # art. 12(3): three months, only if the extension was announced in month one
    )


def compute_deadlines(
    received_at: datetime,
    *,
    promise_weeks: int = 4,
    paused_days: int = 0,
    extra_holidays: Iterable[date] = (),
) -> Deadlines:
    """All deadlines for a request received at `received_at` (timezone-aware).

    `paused_days` (days spent waiting for identifying information, legal.md section 1) are added
    to each raw end date before it is rolled past weekends and holidays. `extra_holidays` are days
    equated with holidays by royal decree (Atw art. 3(3)).
    """
    if promise_weeks < 0 or paused_days < 0:
        raise ValueError("promise_weeks and paused_days must not be negative")
    return _deadlines(
        receipt_date(received_at), promise_weeks, paused_days, frozenset(extra_holidays)
    )


@functools.lru_cache(maxsize=4096)
def _deadlines(
    received_on: date, promise_weeks: int, paused_days: int, extra: frozenset[date]
) -> Deadlines:
    # Cached: every request received on the same day has the same deadlines (a batch of mail
    # is mostly one day's), and Deadlines is immutable.
    pause = timedelta(days=paused_days)

    def due(raw_end: date) -> date:
        return next_working_day_on_or_after(raw_end + pause, extra)

    return Deadlines(
        received_on=received_on,
        # Our reading: the promise is not a legal period, but rolling it the same way keeps it a day
        # on which staff can actually act.
        promise=due(received_on + timedelta(weeks=promise_weeks)),
        legal=due(add_months(received_on, 1)),
        legal_extended=due(add_months(received_on, 3)),
    )


def extension_available(deadlines: Deadlines, notice_on: date) -> bool:
    """Art. 12(3): the two extra months exist only if the person was told within month one.

    Our reading: "within the first month" ends with the (rolled, paused) one-month deadline.
    """
    return notice_on <= deadlines.legal


def legal_in_force(
    legal_due: date | None, extended_due: date | None, *, extended: bool
) -> date | None:
    """The legal deadline that applies: the extended one once the extension notice went out
    (`extended`: the case's extension_sent_at is set)."""
    return (extended_due or legal_due) if extended else legal_due


def on_time(closed_on: date, in_force: date | None) -> bool | None:
    """Closed (the Amsterdam date of closing) on or before the legal deadline in force; None:
    no deadline recorded, so it cannot be said."""
    if in_force is None:
        return None
    return closed_on <= in_force
